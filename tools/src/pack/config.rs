//! The launch configuration a packed image carries (JSON, docs/packed-image.md): the run of
//! the image as `coracle run IMAGE` derived it when the image was packed, and what `coracle
//! run FILE` needs to vary it (the Entrypoint, which trailing arguments keep).

use std::ffi::OsString;
use std::io;

use serde::{Deserialize, Serialize};

use crate::env::Environment;
use crate::error::RunError;
use crate::image::run::Prepared;
use crate::initrd::{Records, Root, User};

/// The configuration, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackedConfig {
    /// The image as named to `coracle pack`.
    pub image: String,
    /// The image's id (its config's digest).
    pub image_id: String,
    /// The program's arguments: Entrypoint + Cmd (or the pack's ARGS).
    pub argv: Vec<String>,
    /// The Entrypoint in effect: `coracle run FILE ARGS` runs it with ARGS.
    pub entrypoint: Vec<String>,
    /// `KEY=VALUE`, in order.
    pub env: Vec<String>,
    /// Where argv[0] was found in the image (absolute).
    pub exec: String,
    /// The working directory (absolute).
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups (the primary one included).
    pub groups: Vec<u32>,
    /// The image's StopSignal.
    pub stop_signal: Option<String>,
}

/// A launch as the records carry it.
#[derive(Debug, Clone)]
pub struct PackedLaunch {
    pub argv: Vec<OsString>,
    pub env: Environment,
    pub exec: Vec<u8>,
    pub cwd: Vec<u8>,
    pub user: User,
}

fn utf8(what: &str, s: &std::ffi::OsStr) -> Result<String, RunError> {
    s.to_str().map(str::to_owned).ok_or_else(|| {
        RunError::Usage(format!(
            "{what} {s:?} is not UTF-8: a packed image's configuration is JSON"
        ))
    })
}

impl PackedConfig {
    /// The configuration of the run `prepared` describes; the host name is the image id's
    /// first 12 digits (as Docker names a container by its id), so packing is reproducible.
    pub(crate) fn new(image: &str, prepared: &Prepared) -> Result<PackedConfig, RunError> {
        let image_id = prepared.image_id.to_string();
        let short: String = image_id
            .trim_start_matches("sha256:")
            .chars()
            .take(12)
            .collect();
        let mut env = prepared.process.env.clone();
        env.set("HOSTNAME".into(), short.into());
        let argv = prepared
            .process
            .argv
            .iter()
            .map(|a| utf8("the argument", a))
            .collect::<Result<_, _>>()?;
        let text = |bytes: &[u8], what: &str| {
            String::from_utf8(bytes.to_vec()).map_err(|_| {
                RunError::Usage(format!(
                    "{what} is not UTF-8: a packed image's configuration is JSON"
                ))
            })
        };
        let env = env
            .entries()
            .map(|e| text(&e, "an environment variable"))
            .collect::<Result<_, _>>()?;
        Ok(PackedConfig {
            image: image.to_owned(),
            image_id,
            argv,
            entrypoint: prepared.entrypoint.clone(),
            env,
            exec: text(&prepared.exec, "the program's path")?,
            cwd: text(&prepared.process.cwd, "the working directory")?,
            uid: prepared.user.uid,
            gid: prepared.user.gid,
            groups: prepared.user.groups.clone(),
            stop_signal: prepared.stop_signal.clone(),
        })
    }

    /// Reads a configuration from a packed file (untrusted: any JSON error is an error).
    pub fn parse(bytes: &[u8]) -> Result<PackedConfig, String> {
        let config: PackedConfig = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        let absolute = |p: &str| p.starts_with('/') && !p.contains('\0');
        if config.argv.is_empty() || !absolute(&config.exec) || !absolute(&config.cwd) {
            return Err("no program, or a relative program or working directory".into());
        }
        if config.env.iter().any(|e| !e.contains('=')) {
            return Err("an environment entry without `=`".into());
        }
        Ok(config)
    }

    /// The packed launch.
    pub fn launch(&self) -> PackedLaunch {
        let mut env = Environment::default();
        for entry in &self.env {
            let (k, v) = entry.split_once('=').unwrap_or((entry, ""));
            env.set(k.into(), v.into());
        }
        PackedLaunch {
            argv: self.argv.iter().map(OsString::from).collect(),
            env,
            exec: self.exec.as_bytes().to_vec(),
            cwd: self.cwd.as_bytes().to_vec(),
            user: User {
                uid: self.uid,
                gid: self.gid,
                groups: self.groups.clone(),
            },
        }
    }
}

impl PackedLaunch {
    /// The initrd of docs/guest-protocol.md with the root on the drive: the records alone.
    pub fn write_records(&self) -> io::Result<Vec<u8>> {
        let records = Records {
            argv: &self.argv,
            env: &self.env,
            exec: &self.exec,
            cwd: &self.cwd,
            etc: &[],
            user: Some(&self.user),
        };
        crate::initrd::write_initrd(Vec::new(), &records, Root::Device)
    }
}
