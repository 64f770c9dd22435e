//! A fake distribution registry on 127.0.0.1 that demands a bearer token, serving a fixture
//! image behind a two-platform index.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use super::*;
use crate::image::fixture::{gzip, ImageFixture, Layer};
use crate::image::manifest::Image;
use crate::tempdir::TempDir;

struct Fake {
    port: u16,
    /// Paths requested, with whether they carried the token.
    log: Arc<Mutex<Vec<(String, bool)>>>,
}

/// Serves `routes` (path → body, media type); everything under /v2/ needs the token.
fn serve(routes: HashMap<String, (Vec<u8>, &'static str)>) -> Fake {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let log = Arc::new(Mutex::new(Vec::new()));
    let seen = log.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut first = String::new();
            reader.read_line(&mut first).unwrap();
            let mut authorised = false;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
                    break;
                }
                authorised |= line.eq_ignore_ascii_case("authorization: bearer t0k3n\r\n");
            }
            let path = first.split(' ').nth(1).unwrap_or("").to_owned();
            seen.lock().unwrap().push((path.clone(), authorised));
            let (status, headers, body): (&str, String, Vec<u8>) = if path.starts_with("/token?") {
                let ok = path.contains("service=fake")
                    && path.contains("scope=repository%3Atest%2Fapp%3Apull");
                if ok {
                    ("200 OK", String::new(), br#"{"token":"t0k3n"}"#.to_vec())
                } else {
                    ("400 Bad Request", String::new(), Vec::new())
                }
            } else if !authorised {
                let challenge = format!(
                    "WWW-Authenticate: Bearer realm=\"http://127.0.0.1:{port}/token\",service=\"fake\",scope=\"repository:test/app:pull\"\r\n"
                );
                ("401 Unauthorized", challenge, br#"{"errors":[]}"#.to_vec())
            } else {
                match routes.get(&path) {
                    Some((body, media)) => {
                        ("200 OK", format!("Content-Type: {media}\r\n"), body.clone())
                    }
                    None => ("404 Not Found", String::new(), Vec::new()),
                }
            };
            let head = format!(
                "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    Fake { port, log }
}

fn fixture() -> (ImageFixture, Vec<u8>) {
    let tar = Layer::default()
        .file("hello.txt", 0o644, b"from the registry")
        .tar();
    let image = ImageFixture::new(&[(gzip(&tar), tar)], serde_json::json!({"Cmd": ["/hello"]}));
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
        "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json",
             "digest": format!("sha256:{}", "1".repeat(64)), "size": 10,
             "platform": {"architecture": "arm64", "os": "linux"}},
            {"mediaType": "application/vnd.oci.image.manifest.v1+json",
             "digest": image.manifest.as_str(), "size": image.manifest_bytes.len(),
             "platform": {"architecture": "amd64", "os": "linux"}},
        ]
    }))
    .unwrap();
    (image, index)
}

fn routes(image: &ImageFixture, index: &[u8]) -> HashMap<String, (Vec<u8>, &'static str)> {
    let mut routes = HashMap::new();
    routes.insert(
        "/v2/test/app/manifests/v1".to_owned(),
        (
            index.to_vec(),
            "application/vnd.docker.distribution.manifest.list.v2+json",
        ),
    );
    routes.insert(
        format!("/v2/test/app/manifests/{}", image.manifest),
        (
            image.manifest_bytes.clone(),
            "application/vnd.oci.image.manifest.v1+json",
        ),
    );
    for (d, bytes) in &image.blobs {
        routes.insert(
            format!("/v2/test/app/blobs/{d}"),
            (bytes.clone(), "application/octet-stream"),
        );
    }
    routes
}

#[test]
fn pulls_the_amd64_image_with_a_bearer_token() {
    let (image, index) = fixture();
    let fake = serve(routes(&image, &index));
    let tmp = TempDir::new().unwrap();
    let store = Store::open(tmp.path().join("store")).unwrap();
    let reference = Reference::parse(&format!("127.0.0.1:{}/test/app:v1", fake.port)).unwrap();
    let imported = pull(&store, &reference).unwrap();
    assert_eq!(imported.manifest, image.manifest);
    assert_eq!(imported.names, [reference.to_string()]);
    let loaded = Image::load(&store, &imported.manifest).unwrap();
    let tree = loaded.rootfs(&store, Default::default()).unwrap();
    assert!(tree.get(b"hello.txt").is_some());
    let log = fake.log.lock().unwrap().clone();
    assert_eq!(log[0], ("/v2/test/app/manifests/v1".to_owned(), false));
    assert!(log[1].0.starts_with("/token?"), "{log:?}");
    assert!(
        log[2..].iter().all(|(_, authorised)| *authorised),
        "{log:?}"
    );

    // By digest: the manifest is checked against it.
    let by_digest = Reference::parse(&format!(
        "127.0.0.1:{}/test/app@{}",
        fake.port, image.manifest
    ))
    .unwrap();
    assert_eq!(pull(&store, &by_digest).unwrap().manifest, image.manifest);
}

#[test]
fn a_tampered_blob_is_refused_and_not_stored() {
    let (image, index) = fixture();
    let mut routes = routes(&image, &index);
    let layer = &image.blobs[0].0;
    let tampered = gzip(&Layer::default().file("hello.txt", 0o644, b"evil").tar());
    routes.insert(
        format!("/v2/test/app/blobs/{layer}"),
        (tampered, "application/octet-stream"),
    );
    let fake = serve(routes);
    let tmp = TempDir::new().unwrap();
    let store = Store::open(tmp.path().join("store")).unwrap();
    let reference = Reference::parse(&format!("127.0.0.1:{}/test/app:v1", fake.port)).unwrap();
    let err = pull(&store, &reference).unwrap_err().to_string();
    assert!(
        err.contains(layer.as_str()) && err.contains("mismatch"),
        "{err}"
    );
    assert!(!store.has_blob(layer));
}

#[test]
fn challenges_and_urls() {
    let parsed = parse_challenge(r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull""#).unwrap();
    assert_eq!(
        parsed[0],
        ("realm".into(), "https://auth.docker.io/token".into())
    );
    assert_eq!(parsed[2].1, "repository:library/nginx:pull");
    assert!(parse_challenge("Basic realm=\"x\"").is_none());
    assert_eq!(base_url("docker.io"), "https://registry-1.docker.io");
    assert_eq!(base_url("127.0.0.1:5000"), "http://127.0.0.1:5000");
    assert_eq!(base_url("localhost"), "http://localhost");
    assert_eq!(base_url("ghcr.io"), "https://ghcr.io");
}
