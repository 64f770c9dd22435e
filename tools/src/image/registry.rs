//! Pulling images from an OCI distribution registry, as `docker pull` does.
//!
//! `GET /v2/NAME/manifests/REF` with the manifest media types in `Accept`; an index resolves
//! to its `linux/amd64` manifest; then the config and layer blobs not already in the store,
//! each checked against its descriptor's digest and size while it streams into the store. A
//! `401` with a `Bearer` challenge gets an anonymous token from the challenge's realm (the
//! distribution token-auth flow) and the request is sent again. Registries on `localhost` and
//! loopback addresses are spoken to over plain HTTP (Docker treats them as insecure
//! registries too); everything else over HTTPS. Docker Hub's API host is
//! `registry-1.docker.io`.

use std::io::Read;
use std::time::Duration;

use super::digest::Digest;
use super::import::Imported;
use super::manifest::{
    descriptor_digest, parse_document, pick_platform, Document, INDEX_TYPES, MANIFEST_TYPES,
};
use super::reference::Reference;
use super::store::Store;
use super::ImageError;

/// Manifests larger than this are refused (Docker's limit is 4 MiB).
const MANIFEST_LIMIT: u64 = 4 << 20;

/// One registry conversation, remembering the token it got.
#[derive(Debug)]
struct Client {
    agent: ureq::Agent,
    base: String,
    path: String,
    token: Option<String>,
}

/// The URL scheme and host for `domain`.
pub fn base_url(domain: &str) -> String {
    let host = domain.rsplit_once(':').map_or(domain, |(h, p)| {
        if p.bytes().all(|b| b.is_ascii_digit()) {
            h
        } else {
            domain
        }
    });
    let local = host == "localhost" || host.starts_with("127.") || host == "[::1]";
    match domain {
        "docker.io" => "https://registry-1.docker.io".into(),
        _ if local => format!("http://{domain}"),
        _ => format!("https://{domain}"),
    }
}

impl Client {
    fn new(reference: &Reference) -> Client {
        Client {
            agent: ureq::AgentBuilder::new()
                .timeout_connect(Duration::from_secs(30))
                .timeout_read(Duration::from_secs(300))
                .redirects(8)
                .build(),
            base: base_url(&reference.domain),
            path: reference.path.clone(),
            token: None,
        }
    }

    /// GET `url`, authenticating once if the registry asks for a bearer token.
    fn get(&mut self, url: &str, accept: Option<&str>) -> Result<ureq::Response, ImageError> {
        for attempt in 0..2 {
            let mut request = self.agent.get(url);
            if let Some(accept) = accept {
                request = request.set("Accept", accept);
            }
            if let Some(token) = &self.token {
                request = request.set("Authorization", &format!("Bearer {token}"));
            }
            match request.call() {
                Ok(response) => return Ok(response),
                Err(ureq::Error::Status(401, response)) if attempt == 0 => {
                    let challenge = response.header("WWW-Authenticate").unwrap_or("").to_owned();
                    self.token = Some(self.fetch_token(&challenge)?);
                }
                Err(ureq::Error::Status(code, response)) => {
                    let body = response.into_string().unwrap_or_default();
                    let what = match code {
                        401 | 403 => "access denied (private images need a login, which Coracle does not support yet)",
                        404 => "not found",
                        _ => "refused",
                    };
                    return Err(ImageError::Registry(format!(
                        "{url}: {what} (HTTP {code}) {}",
                        body.chars().take(300).collect::<String>().trim()
                    )));
                }
                Err(e) => return Err(ImageError::Registry(format!("{url}: {e}"))),
            }
        }
        Err(ImageError::Registry(format!(
            "{url}: still unauthorised after getting a token"
        )))
    }

    /// The distribution token flow: GET realm?service=...&scope=repository:PATH:pull.
    fn fetch_token(&self, challenge: &str) -> Result<String, ImageError> {
        let params = parse_challenge(challenge).ok_or_else(|| {
            ImageError::Registry(format!(
                "the registry wants authentication Coracle does not support: {challenge:?}"
            ))
        })?;
        let realm = params
            .iter()
            .find(|(k, _)| k == "realm")
            .map(|(_, v)| v.clone())
            .ok_or_else(|| {
                ImageError::Registry(format!("a bearer challenge without a realm: {challenge:?}"))
            })?;
        let mut request = self.agent.get(&realm);
        if let Some((_, service)) = params.iter().find(|(k, _)| k == "service") {
            request = request.query("service", service);
        }
        let scope = params
            .iter()
            .find(|(k, _)| k == "scope")
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| format!("repository:{}:pull", self.path));
        request = request.query("scope", &scope);
        let response = request
            .call()
            .map_err(|e| ImageError::Registry(format!("cannot get a token from {realm}: {e}")))?;
        let mut body = Vec::new();
        response
            .into_reader()
            .take(MANIFEST_LIMIT)
            .read_to_end(&mut body)
            .map_err(|e| ImageError::io(format!("cannot read the token from {realm}"), e))?;
        let value: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|e| ImageError::json(format!("the token from {realm}"), e))?;
        value
            .get("token")
            .or_else(|| value.get("access_token"))
            .and_then(|t| t.as_str())
            .map(str::to_owned)
            .ok_or_else(|| ImageError::Registry(format!("{realm} gave no token")))
    }

    fn manifest(&mut self, reference: &str) -> Result<Vec<u8>, ImageError> {
        let url = format!("{}/v2/{}/manifests/{reference}", self.base, self.path);
        let accept = [INDEX_TYPES, MANIFEST_TYPES].concat().join(", ");
        let response = self.get(&url, Some(&accept))?;
        let mut bytes = Vec::new();
        response
            .into_reader()
            .take(MANIFEST_LIMIT + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| ImageError::io(format!("cannot read {url}"), e))?;
        if bytes.len() as u64 > MANIFEST_LIMIT {
            return Err(ImageError::Registry(format!(
                "{url}: the manifest is larger than 4 MiB"
            )));
        }
        Ok(bytes)
    }

    fn blob(&mut self, digest: &Digest) -> Result<ureq::Response, ImageError> {
        let url = format!("{}/v2/{}/blobs/{digest}", self.base, self.path);
        self.get(&url, None)
    }
}

/// `Bearer k="v",k2="v2"` as pairs; `None` for other schemes.
fn parse_challenge(header: &str) -> Option<Vec<(String, String)>> {
    let rest = header
        .trim()
        .strip_prefix("Bearer ")
        .or_else(|| header.trim().strip_prefix("bearer "))?;
    let mut out = Vec::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = std::iter::from_fn(|| chars.next_if(|c| *c != '=')).collect();
        if key.is_empty() || chars.next() != Some('=') {
            break;
        }
        let value: String = if chars.peek() == Some(&'"') {
            chars.next();
            let mut v = String::new();
            while let Some(c) = chars.next() {
                match c {
                    '"' => break,
                    '\\' => v.extend(chars.next()),
                    c => v.push(c),
                }
            }
            v
        } else {
            std::iter::from_fn(|| chars.next_if(|c| *c != ',')).collect()
        };
        out.push((key.trim().to_owned(), value));
    }
    Some(out)
}

/// Pulls `reference` into `store`.
pub fn pull(store: &Store, reference: &Reference) -> Result<Imported, ImageError> {
    let mut client = Client::new(reference);
    let mut bytes = client.manifest(&reference.reference())?;
    if let Some(digest) = &reference.digest {
        digest.verify(&bytes).map_err(|error| ImageError::Digest {
            what: format!("the manifest of {reference}"),
            error,
        })?;
    }
    let manifest = loop {
        match parse_document(&bytes, "the manifest")? {
            Document::Index(index) => {
                let chosen = pick_platform(&index, &reference.to_string())?;
                let digest = descriptor_digest(chosen, "the index")?;
                bytes = client.manifest(digest.as_str())?;
                digest.verify(&bytes).map_err(|error| ImageError::Digest {
                    what: format!("the manifest {digest}"),
                    error,
                })?;
            }
            Document::Manifest(manifest) => break manifest,
        }
    };
    let digest = store.put_bytes(&bytes, "the manifest")?;
    let blobs = std::iter::once(manifest.config()).chain(manifest.layers());
    for blob in blobs {
        let d = descriptor_digest(blob, "a descriptor")?;
        if store.has_blob(&d) {
            continue;
        }
        let response = client.blob(&d)?;
        store.put(
            response.into_reader(),
            Some(&d),
            Some(blob.size()),
            &format!("blob {d}"),
        )?;
    }
    Ok(Imported {
        manifest: digest,
        names: vec![reference.to_string()],
    })
}

#[cfg(test)]
#[path = "registry_tests.rs"]
mod tests;
