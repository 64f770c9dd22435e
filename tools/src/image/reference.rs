//! Image references as Docker reads them, and the sources `coracle run IMAGE` accepts.
//!
//! A reference is `[DOMAIN/]PATH[:TAG][@DIGEST]`, normalised as Docker's `ParseNormalizedNamed`
//! does: no domain means `docker.io`, a one-component path on Docker Hub gets `library/`, no
//! tag and no digest means `:latest`. The first component is a domain when it has a `.` or a
//! `:`, or is `localhost`. A source is a reference or one of the transports skopeo and buildah
//! name the same way (`oci:DIR[:TAG]`, `oci-archive:FILE`, `docker-archive:FILE`,
//! `containers-storage:NAME`).

use std::fmt;
use std::path::PathBuf;

use super::digest::Digest;

const DOCKER_HUB: &str = "docker.io";

/// A normalised image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The registry: `docker.io`, `localhost:5000`, `127.0.0.1:41000`, `ghcr.io`...
    pub domain: String,
    /// The repository path in it, e.g. `library/nginx`.
    pub path: String,
    pub tag: Option<String>,
    pub digest: Option<Digest>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid image reference {text:?}: {why}")]
pub struct ReferenceError {
    text: String,
    why: &'static str,
}

impl Reference {
    pub fn parse(text: &str) -> Result<Reference, ReferenceError> {
        let fail = |why| ReferenceError {
            text: text.to_owned(),
            why,
        };
        let (name, digest) = match text.split_once('@') {
            Some((name, digest)) => (
                name,
                Some(Digest::parse(digest).map_err(|_| fail("the digest is not sha256:HEX"))?),
            ),
            None => (text, None),
        };
        let last_slash = name.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match name[last_slash..].rfind(':') {
            Some(i) => (&name[..last_slash + i], Some(&name[last_slash + i + 1..])),
            None => (name, None),
        };
        if let Some(tag) = tag {
            let ok = !tag.is_empty()
                && tag.len() <= 128
                && !tag.starts_with(['.', '-'])
                && tag
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
            if !ok {
                return Err(fail("the tag must be letters, digits, `_`, `.` or `-`"));
            }
        }
        let (domain, path) = match name.split_once('/') {
            Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => {
                (first.to_owned(), rest.to_owned())
            }
            _ => (DOCKER_HUB.to_owned(), name.to_owned()),
        };
        let domain = if domain == "index.docker.io" {
            DOCKER_HUB.to_owned()
        } else {
            domain
        };
        if domain.is_empty()
            || !domain
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        {
            return Err(fail("the registry name is not a host[:port]"));
        }
        let path_ok = !path.is_empty()
            && path.split('/').all(|part| {
                !part.is_empty()
                    && part.bytes().all(|b| {
                        b.is_ascii_lowercase()
                            || b.is_ascii_digit()
                            || matches!(b, b'.' | b'_' | b'-')
                    })
                    && part.starts_with(|c: char| c.is_ascii_alphanumeric())
                    && part.ends_with(|c: char| c.is_ascii_alphanumeric())
            });
        if !path_ok {
            return Err(fail(
                "the repository name must be lowercase letters, digits and separators (`.`, `_`, `-`, `/`)",
            ));
        }
        let path = if domain == DOCKER_HUB && !path.contains('/') {
            format!("library/{path}")
        } else {
            path
        };
        let tag = match (tag, &digest) {
            (Some(tag), _) => Some(tag.to_owned()),
            (None, None) => Some("latest".to_owned()),
            (None, Some(_)) => None,
        };
        Ok(Reference {
            domain,
            path,
            tag,
            digest,
        })
    }

    /// The repository as Docker shows it: `nginx`, `user/app`, `localhost:5000/app`.
    pub fn familiar_repository(&self) -> String {
        if self.domain == DOCKER_HUB {
            self.path
                .strip_prefix("library/")
                .filter(|rest| !rest.contains('/'))
                .unwrap_or(&self.path)
                .to_owned()
        } else {
            format!("{}/{}", self.domain, self.path)
        }
    }

    /// The reference as Docker shows it: `nginx:1.25`.
    pub fn familiar(&self) -> String {
        let mut out = self.familiar_repository();
        self.push_suffix(&mut out);
        out
    }

    /// The tag or digest to ask a registry for.
    pub fn reference(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => "latest".into(),
        }
    }

    fn push_suffix(&self, out: &mut String) {
        if let Some(tag) = &self.tag {
            out.push(':');
            out.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            out.push('@');
            out.push_str(digest.as_str());
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = format!("{}/{}", self.domain, self.path);
        self.push_suffix(&mut out);
        f.write_str(&out)
    }
}

/// Where `coracle run`/`coracle pull` take an image from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `oci:DIR[:TAG]`: an OCI image layout directory; TAG picks an entry of its index by
    /// its `org.opencontainers.image.ref.name` annotation.
    OciDir { dir: PathBuf, tag: Option<String> },
    /// `oci-archive:FILE`: an OCI image layout in a tar file.
    OciArchive(PathBuf),
    /// `docker-archive:FILE`: what `docker save` writes.
    DockerArchive(PathBuf),
    /// `containers-storage:NAME`: buildah's and podman's local images, through skopeo.
    ContainersStorage(String),
    /// A registry reference (or a name in Coracle's store).
    Registry(Reference),
}

impl Source {
    /// Parses a transport-prefixed source; `None` when `text` has no known transport.
    pub fn parse_transport(text: &str) -> Option<Source> {
        let (transport, rest) = text.split_once(':')?;
        Some(match transport {
            "oci" => {
                // The tag is after the last `:` when what follows has no `/`.
                match rest.rsplit_once(':') {
                    Some((dir, tag)) if !tag.contains('/') && !tag.is_empty() => Source::OciDir {
                        dir: dir.into(),
                        tag: Some(tag.to_owned()),
                    },
                    _ => Source::OciDir {
                        dir: rest.into(),
                        tag: None,
                    },
                }
            }
            "oci-archive" => Source::OciArchive(strip_reference(rest).into()),
            "docker-archive" => Source::DockerArchive(strip_reference(rest).into()),
            "containers-storage" => Source::ContainersStorage(rest.to_owned()),
            "docker" => {
                let rest = rest.strip_prefix("//").unwrap_or(rest);
                return Reference::parse(rest).ok().map(Source::Registry);
            }
            _ => return None,
        })
    }
}

/// `FILE[:REFERENCE]` (skopeo's archive syntax): the file. A `:` followed by something
/// without `/` that is not an existing file's name is taken as the reference part.
fn strip_reference(rest: &str) -> &str {
    if std::path::Path::new(rest).exists() {
        return rest;
    }
    match rest.split_once(':') {
        Some((file, _)) => file,
        None => rest,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> (String, String, Option<String>, Option<String>) {
        let r = Reference::parse(text).unwrap();
        (r.domain, r.path, r.tag, r.digest.map(|d| d.to_string()))
    }

    #[test]
    fn docker_normalisation() {
        let s = |x: &str| x.to_owned();
        assert_eq!(
            parse("nginx"),
            (s("docker.io"), s("library/nginx"), Some(s("latest")), None)
        );
        assert_eq!(
            parse("nginx:1.25"),
            (s("docker.io"), s("library/nginx"), Some(s("1.25")), None)
        );
        assert_eq!(parse("docker.io/library/nginx:1.25"), parse("nginx:1.25"));
        assert_eq!(parse("index.docker.io/nginx"), parse("nginx"));
        assert_eq!(parse("user/app").1, "user/app");
        assert_eq!(parse("localhost/app").0, "localhost");
        assert_eq!(
            parse("localhost:5000/a/b:v1"),
            (s("localhost:5000"), s("a/b"), Some(s("v1")), None)
        );
        assert_eq!(parse("127.0.0.1:41000/x").0, "127.0.0.1:41000");
        assert_eq!(parse("ghcr.io/o/r").0, "ghcr.io");
        let d = "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
        assert_eq!(
            parse(&format!("nginx@{d}")),
            (s("docker.io"), s("library/nginx"), None, Some(s(d)))
        );
        assert_eq!(parse(&format!("nginx:1@{d}")).2, Some(s("1")));
        let r = Reference::parse("nginx:1.25").unwrap();
        assert_eq!(r.to_string(), "docker.io/library/nginx:1.25");
        assert_eq!(r.familiar(), "nginx:1.25");
        assert_eq!(
            Reference::parse("localhost:5000/a").unwrap().familiar(),
            "localhost:5000/a:latest"
        );
        assert_eq!(Reference::parse("u/a").unwrap().familiar(), "u/a:latest");
    }

    #[test]
    fn invalid_references() {
        for bad in [
            "",
            "Nginx",
            "nginx:",
            "nginx:-x",
            "a//b",
            "nginx@sha256:00",
            "-a",
            "a/",
            ":tag",
            "x/y:a b",
        ] {
            assert!(Reference::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn transports() {
        assert_eq!(
            Source::parse_transport("oci:/tmp/layout:v1"),
            Some(Source::OciDir {
                dir: "/tmp/layout".into(),
                tag: Some("v1".into())
            })
        );
        assert_eq!(
            Source::parse_transport("oci:/tmp/layout"),
            Some(Source::OciDir {
                dir: "/tmp/layout".into(),
                tag: None
            })
        );
        assert_eq!(
            Source::parse_transport("oci-archive:/nonexistent/a.tar"),
            Some(Source::OciArchive("/nonexistent/a.tar".into()))
        );
        assert_eq!(
            Source::parse_transport("docker-archive:/nonexistent/a.tar:app:1"),
            Some(Source::DockerArchive("/nonexistent/a.tar".into()))
        );
        assert_eq!(
            Source::parse_transport("docker://nginx"),
            Some(Source::Registry(Reference::parse("nginx").unwrap()))
        );
        assert_eq!(Source::parse_transport("nginx:1.25"), None);
        assert_eq!(Source::parse_transport("/bin/ls"), None);
    }
}
