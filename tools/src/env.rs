//! The program's environment, assembled the way `docker run` does it.
//!
//! Defaults (`PATH`, `HOSTNAME`, `HOME`, `TERM` with `-t`), then `--env-file` files, then `-e`
//! options, later values replacing earlier ones in place. Keys and values are raw bytes: the
//! guest gets them exactly as given. `cli` feeds this module; `initrd` serialises the result.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

/// The `PATH` docker images get when they set none.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EnvError {
    #[error("invalid environment variable {0:?}: the name is empty")]
    EmptyName(String),
    #[error("line {line}: variable {name:?} contains whitespace")]
    Whitespace { line: usize, name: String },
}

/// An ordered list of `KEY=VALUE` pairs with unique keys.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Environment {
    vars: Vec<(OsString, OsString)>,
}

impl Environment {
    /// The environment docker gives a container before any `-e`: `PATH`, `HOSTNAME`, `TERM`
    /// (only with a terminal) and `HOME`.
    pub fn docker_defaults(hostname: &str, tty: bool) -> Self {
        let mut env = Self::default();
        env.set("PATH".into(), DEFAULT_PATH.into());
        env.set("HOSTNAME".into(), hostname.into());
        if tty {
            env.set("TERM".into(), "xterm".into());
        }
        env.set("HOME".into(), "/root".into());
        env
    }

    /// Sets `key`, replacing an earlier value in place (so the order stays stable).
    pub fn set(&mut self, key: OsString, value: OsString) {
        match self.vars.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.vars.push((key, value)),
        }
    }

    pub fn get(&self, key: &str) -> Option<&OsStr> {
        self.vars
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_os_str())
    }

    pub fn extend(&mut self, vars: impl IntoIterator<Item = (OsString, OsString)>) {
        for (k, v) in vars {
            self.set(k, v);
        }
    }

    /// `KEY=VALUE` strings in order, as the guest's `envp` will hold them.
    pub fn entries(&self) -> impl Iterator<Item = Vec<u8>> + '_ {
        self.vars.iter().map(|(k, v)| {
            let mut entry = k.as_bytes().to_vec();
            entry.push(b'=');
            entry.extend_from_slice(v.as_bytes());
            entry
        })
    }
}

/// Parses one `-e` value: `KEY=VALUE`, or `KEY` alone to copy the host's value (skipped, like
/// docker, when the host has none).
pub fn parse_env_arg(
    arg: &OsStr,
    host: impl Fn(&OsStr) -> Option<OsString>,
) -> Result<Option<(OsString, OsString)>, EnvError> {
    let bytes = arg.as_bytes();
    let (name, value) = match bytes.iter().position(|&b| b == b'=') {
        Some(eq) => (&bytes[..eq], Some(&bytes[eq + 1..])),
        None => (bytes, None),
    };
    if name.is_empty() {
        return Err(EnvError::EmptyName(arg.to_string_lossy().into_owned()));
    }
    let name = OsStr::from_bytes(name);
    Ok(match value {
        Some(v) => Some((name.to_owned(), OsStr::from_bytes(v).to_owned())),
        None => host(name).map(|v| (name.to_owned(), v)),
    })
}

/// Parses an `--env-file` in docker's format: one `KEY=VALUE` per line, taken literally (no
/// quoting); leading whitespace is dropped; blank lines and lines starting with `#` are skipped;
/// `KEY` alone copies the host's value.
pub fn parse_env_file(
    contents: &[u8],
    host: impl Fn(&OsStr) -> Option<OsString>,
) -> Result<Vec<(OsString, OsString)>, EnvError> {
    let mut vars = Vec::new();
    for (index, raw) in contents.split(|&b| b == b'\n').enumerate() {
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        let line = trim_start(line);
        if line.is_empty() || line.starts_with(b"#") {
            continue;
        }
        let name_end = line.iter().position(|&b| b == b'=').unwrap_or(line.len());
        let name = &line[..name_end];
        if name.iter().any(u8::is_ascii_whitespace) {
            return Err(EnvError::Whitespace {
                line: index + 1,
                name: String::from_utf8_lossy(name).into_owned(),
            });
        }
        if let Some(var) = parse_env_arg(OsStr::from_bytes(line), &host)? {
            vars.push(var);
        }
    }
    Ok(vars)
}

fn trim_start(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if !first.is_ascii_whitespace() {
            break;
        }
        s = rest;
    }
    s
}

/// A docker-like container id for `HOSTNAME`: 12 hex digits, different on every run.
pub fn random_hostname() -> String {
    use std::hash::{BuildHasher, Hasher};
    // RandomState is seeded from the OS's random source; mix in the time and pid for good measure.
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    if let Ok(now) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        hasher.write_u128(now.as_nanos());
    }
    format!("{:012x}", hasher.finish() & 0xffff_ffff_ffff)
}

/// Reads the host variable `name` (the real lookup that tests replace with a fake).
pub fn host_lookup(name: &OsStr) -> Option<OsString> {
    std::env::var_os(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStringExt;

    fn pair(k: &str, v: &[u8]) -> (OsString, OsString) {
        (k.into(), OsString::from_vec(v.to_vec()))
    }

    fn host(name: &OsStr) -> Option<OsString> {
        (name == "HOSTVAR").then(|| "from-host".into())
    }

    #[test]
    fn env_arg_forms() {
        assert_eq!(
            parse_env_arg("A=b=c".as_ref(), host),
            Ok(Some(pair("A", b"b=c")))
        );
        assert_eq!(parse_env_arg("A=".as_ref(), host), Ok(Some(pair("A", b""))));
        assert_eq!(
            parse_env_arg("HOSTVAR".as_ref(), host),
            Ok(Some(pair("HOSTVAR", b"from-host")))
        );
        assert_eq!(parse_env_arg("UNSET".as_ref(), host), Ok(None));
        assert!(parse_env_arg("=x".as_ref(), host).is_err());
        assert!(parse_env_arg("".as_ref(), host).is_err());
    }

    #[test]
    fn env_arg_keeps_raw_bytes() {
        let arg = OsStr::from_bytes(b"K=\xff\xfe");
        assert_eq!(parse_env_arg(arg, host), Ok(Some(pair("K", b"\xff\xfe"))));
    }

    #[test]
    fn env_file_format() {
        let file = b"# a comment\n\n  A=1\nB= spaced value \r\n   # indented comment\nHOSTVAR\nUNSET\nC=x=y\n";
        assert_eq!(
            parse_env_file(file, host),
            Ok(vec![
                pair("A", b"1"),
                pair("B", b" spaced value "),
                pair("HOSTVAR", b"from-host"),
                pair("C", b"x=y"),
            ])
        );
    }

    #[test]
    fn env_file_errors() {
        assert_eq!(
            parse_env_file(b"OK=1\nBAD NAME=2\n", host),
            Err(EnvError::Whitespace {
                line: 2,
                name: "BAD NAME".into()
            })
        );
        assert!(parse_env_file(b"=novar\n", host).is_err());
    }

    #[test]
    fn defaults_and_overrides() {
        let mut env = Environment::docker_defaults("0123456789ab", true);
        env.extend([pair("PATH", b"/bin"), pair("X", b"1")]);
        let entries: Vec<Vec<u8>> = env.entries().collect();
        assert_eq!(
            entries,
            vec![
                b"PATH=/bin".to_vec(),
                b"HOSTNAME=0123456789ab".to_vec(),
                b"TERM=xterm".to_vec(),
                b"HOME=/root".to_vec(),
                b"X=1".to_vec(),
            ]
        );
        let plain = Environment::docker_defaults("h", false);
        assert_eq!(plain.get("TERM"), None);
        assert_eq!(plain.get("PATH"), Some(OsStr::new(DEFAULT_PATH)));
    }

    #[test]
    fn hostname_is_12_hex_digits() {
        let h = random_hostname();
        assert_eq!(h.len(), 12);
        assert!(h.bytes().all(|b| b.is_ascii_hexdigit()));
    }
}
