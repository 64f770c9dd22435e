//! File pages through the page cache: private mappings copy on write, exec maps the program
//! from the cache, faults wait for pages a disk is still reading, and fsync/msync write back.

use std::sync::Arc;
use std::vec::Vec;

use coracle_vfs::block::FakeBlock;
use coracle_vfs::fakefs::DiskFile;
use coracle_vfs::page::PageState;
use coracle_vfs::{Inode, NewNode, OpenFile};

use super::fake::*;
use super::mman::{read, touch, write};
use crate::mm::{wait_for_page, Access, FaultResult};
use crate::nr::*;
use crate::{Current, Errno};

const SHARED: u64 = 1;
const PRIVATE: u64 = 2;
const O_RDWR: u32 = 2;

fn mmap_fd(p: &mut Current, k: &mut Fake, len: u64, prot: u64, flags: u64, fd: u64) -> u64 {
    let a = sys(p, k, SYS_mmap, &[0, len, prot, flags, fd, 0]);
    assert!(a > 0, "mmap: {a}");
    a as u64
}

/// The page the fake maps at `va`: `Some(true)` for a file page shown copy-on-write,
/// `Some(false)` for the process's own page.
fn cow_at(k: &Fake, va: u64) -> Option<bool> {
    k.pages()
        .get(&va)
        .map(|(m, _)| matches!(m, Mem::FileCow(_)))
}

/// Installs `inode` as an fd opened read-write.
fn install(p: &mut Current, inode: Arc<dyn Inode>) -> u64 {
    let ops = p.sys.vfs.open_inode(&p.caller(), &inode, O_RDWR).unwrap();
    let file = OpenFile::new(inode, b"/disk".to_vec(), O_RDWR, ops);
    p.install(file, false).unwrap() as u64
}

#[test]
fn private_file_pages_are_the_cache_page_until_written() {
    let (mut p, mut k) = setup();
    k.poke(SCRATCH, b"m\0");
    let fd = sys(&mut p, &mut k, SYS_memfd_create, &[SCRATCH, 0]) as u64;
    k.poke(SCRATCH + 64, b"file bytes");
    assert_eq!(sys(&mut p, &mut k, SYS_write, &[fd, SCRATCH + 64, 10]), 10);
    let inode = p.file(fd as i32).unwrap().inode().clone();
    let a = mmap_fd(&mut p, &mut k, 2 * PAGE, 3, PRIVATE, fd);
    // A read maps the file's own page, read-only although the mapping is writable.
    assert_eq!(read(&p, &mut k, a, 10).unwrap(), b"file bytes");
    assert_eq!(cow_at(&k, a), Some(true));
    let cached = inode.cached().unwrap().page_cache().get(0).unwrap();
    match &k.pages()[&a].0 {
        Mem::FileCow(pg) => assert!(Arc::ptr_eq(pg, &cached)),
        _ => unreachable!(),
    }
    assert!(!k.pages()[&a].1.write);
    // mprotect keeps it read-only; the first write copies it, and the file keeps its bytes.
    assert_eq!(sys(&mut p, &mut k, SYS_mprotect, &[a, PAGE, 3]), 0);
    assert!(!k.pages()[&a].1.write);
    write(&p, &mut k, a, b"MINE").unwrap();
    assert_eq!(cow_at(&k, a), Some(false));
    assert_eq!(read(&p, &mut k, a, 10).unwrap(), b"MINE bytes");
    let mut b = [0; 10];
    inode.read_at(0, &mut b).unwrap();
    assert_eq!(&b, b"file bytes");
    // A write to a page not yet mapped copies at once (do_cow_fault).
    assert_eq!(sys(&mut p, &mut k, SYS_ftruncate, &[fd, 2 * PAGE]), 0);
    assert_eq!(
        touch(&p, &mut k, a + PAGE, Access::Write),
        FaultResult::Mapped
    );
    assert_eq!(cow_at(&k, a + PAGE), Some(false));
    // Another private mapping of the file shows the file page again.
    let b2 = mmap_fd(&mut p, &mut k, PAGE, 1, PRIVATE, fd);
    assert_eq!(touch(&p, &mut k, b2, Access::Read), FaultResult::Mapped);
    assert_eq!(cow_at(&k, b2), Some(true));
}

/// A static ELF with a text segment and a data segment whose .bss starts inside its last
/// file page; the file has bytes after the data segment's, which the program must not see.
pub(super) fn program() -> Vec<u8> {
    let mut f = std::vec![0u8; 0x3000];
    f[..4].copy_from_slice(b"\x7fELF");
    f[4] = 2; // ELFCLASS64
    f[5] = 1; // little endian
    f[6] = 1; // EV_CURRENT
    let put = |f: &mut Vec<u8>, at: usize, v: &[u8]| f[at..at + v.len()].copy_from_slice(v);
    put(&mut f, 16, &2u16.to_le_bytes()); // ET_EXEC
    put(&mut f, 18, &62u16.to_le_bytes()); // x86-64
    put(&mut f, 20, &1u32.to_le_bytes());
    put(&mut f, 24, &0x40_0100u64.to_le_bytes()); // entry
    put(&mut f, 32, &64u64.to_le_bytes()); // phoff
    put(&mut f, 54, &56u16.to_le_bytes());
    put(&mut f, 56, &2u16.to_le_bytes());
    // (type, flags, offset, vaddr, filesz, memsz)
    let phdrs = [
        (1u32, 5u32, 0u64, 0x40_0000u64, 0x1800u64, 0x1800u64),
        (1, 6, 0x1800, 0x40_2800, 0x100, 0x2000),
    ];
    for (i, (t, fl, off, va, fs, ms)) in phdrs.into_iter().enumerate() {
        let at = 64 + i * 56;
        put(&mut f, at, &t.to_le_bytes());
        put(&mut f, at + 4, &fl.to_le_bytes());
        put(&mut f, at + 8, &off.to_le_bytes());
        put(&mut f, at + 16, &va.to_le_bytes());
        put(&mut f, at + 24, &va.to_le_bytes());
        put(&mut f, at + 32, &fs.to_le_bytes());
        put(&mut f, at + 40, &ms.to_le_bytes());
        put(&mut f, at + 48, &0x1000u64.to_le_bytes());
    }
    put(&mut f, 0x100, b"text");
    put(&mut f, 0x1800, b"data");
    f[0x1900..].fill(0xee);
    f
}

#[test]
fn exec_maps_the_program_from_the_page_cache() {
    let (mut p, mut k) = setup();
    let root = p.sys.vfs.root().clone();
    let bin = root.lookup(&p.caller(), b"bin").unwrap();
    let prog = bin.create(b"prog", NewNode::Regular, 0o755, 0, 0).unwrap();
    let image = program();
    assert_eq!(prog.write_at(0, &image), Ok(image.len()));
    k.poke(SCRATCH, b"/bin/prog\0");
    assert_eq!(sys(&mut p, &mut k, SYS_execve, &[SCRATCH, 0, 0]), 0);
    // Nothing of the text is read or mapped until it is touched...
    assert!(!k.resident(0x40_0000));
    assert_eq!(
        touch(&p, &mut k, 0x40_0100, Access::Exec),
        FaultResult::Mapped
    );
    // ...and then it is the file's page itself.
    let cached = prog.cached().unwrap().page_cache().get(0).unwrap();
    match &k.pages()[&0x40_0000].0 {
        Mem::FileCow(pg) => assert!(Arc::ptr_eq(pg, &cached)),
        _ => panic!("the text is a copy"),
    }
    assert_eq!(read(&p, &mut k, 0x40_0100, 4).unwrap(), b"text");
    // The page where .bss begins: the file's bytes, then zeros (not the file's 0xee).
    assert!(k.resident(0x40_2000));
    assert_eq!(read(&p, &mut k, 0x40_2800, 4).unwrap(), b"data");
    assert_eq!(read(&p, &mut k, 0x40_28fe, 4).unwrap(), [0, 0, 0, 0]);
    assert_eq!(read(&p, &mut k, 0x40_3000, 8).unwrap(), [0; 8]);
    let named: Vec<(u64, u64, bool)> = p
        .process
        .mm
        .get()
        .lock()
        .vmas_named()
        .filter(|v| v.0 < 0x50_0000)
        .map(|(s, e, _, n)| (s, e, matches!(n, crate::mm::VmaName::File { .. })))
        .collect();
    assert_eq!(
        named,
        [
            (0x40_0000, 0x40_2000, true),
            (0x40_2000, 0x40_3000, true),
            (0x40_3000, 0x40_5000, false)
        ]
    );
}

#[test]
fn a_fault_on_a_page_being_read_waits_for_it() {
    let (mut p, mut k) = setup();
    let data: Vec<u8> = (0..3 * PAGE as usize).map(|i| (i % 253) as u8).collect();
    let dev = FakeBlock::new(data.clone(), false);
    dev.set_delayed(true);
    let fd = install(&mut p, DiskFile::new(dev.clone(), 3 * PAGE));
    let a = mmap_fd(&mut p, &mut k, 3 * PAGE, 1, SHARED, fd);
    let page = match touch(&p, &mut k, a + PAGE + 5, Access::Read) {
        FaultResult::Wait(page) => page,
        other => panic!("{other:?}"),
    };
    assert!(!k.resident(a + PAGE));
    // The thread registers on the page and parks; the read's completion wakes it.
    assert!(wait_for_page(&mut p, &page));
    assert!(p.stop_waiting, "woken, it goes back to user mode as it was");
    assert_eq!(dev.complete(), 1);
    assert_eq!(page.state(), PageState::UpToDate);
    assert_eq!(p.thread.finish_wait(), Some(coracle_vfs::Wake::Retry));
    p.stop_waiting = false;
    // Taken again, the fault maps the page with the disk's bytes.
    assert_eq!(
        touch(&p, &mut k, a + PAGE + 5, Access::Read),
        FaultResult::Mapped
    );
    let want = &data[PAGE as usize..PAGE as usize + 16];
    assert_eq!(read(&p, &mut k, a + PAGE, 16).unwrap(), want);
    // A read that ended before the thread registered: no wait at all.
    let page2 = match touch(&p, &mut k, a, Access::Read) {
        FaultResult::Wait(page) => page,
        other => panic!("{other:?}"),
    };
    dev.complete();
    assert!(!wait_for_page(&mut p, &page2));
    assert_eq!(touch(&p, &mut k, a, Access::Read), FaultResult::Mapped);
}

#[test]
fn a_failed_read_is_sigbus() {
    let (mut p, mut k) = setup();
    let dev = FakeBlock::new(std::vec![1; PAGE as usize], false);
    dev.inject(coracle_vfs::block::Inject::ReadAt(0));
    let fd = install(&mut p, DiskFile::new(dev, PAGE));
    let a = mmap_fd(&mut p, &mut k, PAGE, 1, PRIVATE, fd);
    assert!(matches!(
        touch(&p, &mut k, a, Access::Read),
        FaultResult::Signal { signo: 7, .. }
    ));
}

#[test]
fn fsync_and_msync_write_back_through_the_filesystem() {
    let (mut p, mut k) = setup();
    let data = std::vec![0u8; 2 * PAGE as usize];
    let dev = FakeBlock::new(data, false);
    let fd = install(&mut p, DiskFile::new(dev.clone(), 2 * PAGE));
    // write(2) dirties the cache; fsync writes it and flushes.
    k.poke(SCRATCH, b"via write");
    assert_eq!(sys(&mut p, &mut k, SYS_write, &[fd, SCRATCH, 9]), 9);
    assert_eq!(&dev.contents()[..9], [0; 9]);
    assert_eq!(sys(&mut p, &mut k, SYS_fsync, &[fd]), 0);
    assert_eq!(&dev.contents()[..9], b"via write");
    assert_eq!(dev.counts().2, 1);
    // A store through a shared mapping; msync(MS_SYNC) writes it back.
    let a = mmap_fd(&mut p, &mut k, 2 * PAGE, 3, SHARED, fd);
    write(&p, &mut k, a + PAGE, b"via mmap").unwrap();
    assert_eq!(sys(&mut p, &mut k, SYS_msync, &[a, 2 * PAGE, 4]), 0);
    assert_eq!(
        &dev.contents()[PAGE as usize..PAGE as usize + 8],
        b"via mmap"
    );
    // fdatasync too; a device error is EIO.
    write(&p, &mut k, a, b"again").unwrap();
    dev.inject(coracle_vfs::block::Inject::Flush);
    assert_eq!(sys(&mut p, &mut k, SYS_fdatasync, &[fd]), err(Errno::EIO));
    assert_eq!(&dev.contents()[..5], b"again");
}

#[test]
fn stores_after_a_write_back_are_written_by_the_next_and_by_munmap() {
    let (mut p, mut k) = setup();
    let dev = FakeBlock::new(std::vec![0u8; 2 * PAGE as usize], false);
    let fd = install(&mut p, DiskFile::new(dev.clone(), 2 * PAGE));
    let a = mmap_fd(&mut p, &mut k, 2 * PAGE, 3, SHARED, fd);
    write(&p, &mut k, a, b"first").unwrap();
    assert_eq!(sys(&mut p, &mut k, SYS_msync, &[a, 2 * PAGE, 4]), 0);
    assert_eq!(&dev.contents()[..5], b"first");
    // The page is still mapped: before this change a second store did not dirty it again
    // and the next msync wrote nothing.
    write(&p, &mut k, a, b"again").unwrap();
    assert_eq!(sys(&mut p, &mut k, SYS_msync, &[a, 2 * PAGE, 4]), 0);
    assert_eq!(&dev.contents()[..5], b"again");
    // Through fsync as well, and from another process mapping the same file.
    let (mut child, _) = super::process::fork(&mut p, &mut k);
    super::process::as_proc(&mut child, &p, &mut k, |c, k| {
        write(c, k, a + 10, b"child").unwrap();
    });
    assert_eq!(sys(&mut p, &mut k, SYS_fsync, &[fd]), 0);
    assert_eq!(&dev.contents()[10..15], b"child");
    super::process::as_proc(&mut child, &p, &mut k, |c, k| {
        write(c, k, a + 20, b"later").unwrap();
    });
    assert_eq!(sys(&mut p, &mut k, SYS_fdatasync, &[fd]), 0);
    assert_eq!(&dev.contents()[20..25], b"later");
    // munmap writes back what was stored through the mapping.
    write(&p, &mut k, a + PAGE, b"unmapped").unwrap();
    assert_eq!(sys(&mut p, &mut k, SYS_munmap, &[a, 2 * PAGE]), 0);
    assert_eq!(
        &dev.contents()[PAGE as usize..PAGE as usize + 8],
        b"unmapped"
    );
}
