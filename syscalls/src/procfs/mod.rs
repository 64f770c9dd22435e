//! stub
use alloc::sync::{Arc, Weak};
use coracle_vfs::tmpfs::{new_tmpfs, TmpfsOptions};
use coracle_vfs::{EpochClock, Inode};
use crate::process::System;
pub fn new_procfs(_sys: Weak<System>) -> Arc<dyn Inode> { new_tmpfs(Arc::new(EpochClock), TmpfsOptions::default()) }
pub fn new_sysfs(_sys: Weak<System>) -> Arc<dyn Inode> { new_tmpfs(Arc::new(EpochClock), TmpfsOptions::default()) }
