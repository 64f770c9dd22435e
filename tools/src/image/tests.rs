//! Whole images through the store: every source format gives the same root filesystem, and
//! damaged or hostile images are refused without writing outside the store.

use super::digest::Digest;
use super::fixture::{gzip, zstd, ImageFixture, Layer};
use super::import::import;
use super::manifest::Image;
use super::reference::Source;
use super::store::Store;
use super::tree::FsTree;
use crate::tempdir::TempDir;

fn layers() -> Vec<(Vec<u8>, Vec<u8>)> {
    let base = Layer::default()
        .file("etc/os-release", 0o644, b"ID=fixture\n")
        .file("data/old", 0o600, b"old")
        .tar();
    let top = Layer::default()
        .whiteout("data", "old")
        .file("data/new", 0o640, b"new")
        .tar();
    let third = Layer::default().file("opt/x", 0o755, b"x").tar();
    vec![
        (gzip(&base), base),
        (zstd(&top), top),
        (third.clone(), third),
    ]
}

fn fixture() -> ImageFixture {
    ImageFixture::new(
        &layers(),
        serde_json::json!({"Cmd": ["/bin/true"], "ExposedPorts": {"80/tcp": {}}}),
    )
}

fn rootfs(store: &Store, source: &Source) -> FsTree {
    let imported = import(store, source).unwrap();
    Image::load(store, &imported.manifest)
        .unwrap()
        .rootfs(store, Default::default())
        .unwrap()
}

/// Every file below `dir`, for "nothing was written elsewhere" checks.
fn files_below(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            if e.file_type().unwrap().is_dir() {
                todo.push(e.path());
            } else {
                out.push(e.path());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn every_source_format_gives_the_same_tree() {
    let tmp = TempDir::new().unwrap();
    let image = fixture();
    let layout = tmp.path().join("layout");
    image.write_layout(&layout);
    let oci_archive = tmp.path().join("oci.tar");
    std::fs::write(&oci_archive, image.oci_archive()).unwrap();
    let docker_archive = tmp.path().join("docker.tar");
    std::fs::write(&docker_archive, image.docker_archive(&layers(), "app:1")).unwrap();

    let store = Store::open(tmp.path().join("store")).unwrap();
    let from_dir = rootfs(
        &store,
        &Source::OciDir {
            dir: layout.clone(),
            tag: Some("v1".into()),
        },
    );
    let names: Vec<String> = from_dir
        .iter()
        .map(|(k, _)| String::from_utf8_lossy(k).into_owned())
        .collect();
    assert_eq!(
        names,
        ["data", "data/new", "etc", "etc/os-release", "opt", "opt/x"]
    );
    assert_eq!(rootfs(&store, &Source::OciArchive(oci_archive)), from_dir);
    assert_eq!(
        rootfs(&store, &Source::DockerArchive(docker_archive.clone())),
        from_dir
    );
    let imported = import(&store, &Source::DockerArchive(docker_archive)).unwrap();
    assert_eq!(imported.names, ["app:1"]);
    // The Docker archive's config is the same blob: the same image id.
    assert_eq!(
        Image::load(&store, &imported.manifest)
            .unwrap()
            .config_digest,
        image.config
    );
    let err = import(
        &store,
        &Source::OciDir {
            dir: layout,
            tag: Some("v2".into()),
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("v2"), "{err}");
}

#[test]
fn damaged_blobs_are_refused() {
    let tmp = TempDir::new().unwrap();
    let image = fixture();
    let layout = tmp.path().join("layout");
    image.write_layout(&layout);
    // A layer whose bytes do not match its digest.
    let layer = &image.blobs[0].0;
    let path = layout.join("blobs/sha256").join(layer.hex());
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    let store = Store::open(tmp.path().join("store")).unwrap();
    let err = import(
        &store,
        &Source::OciDir {
            dir: layout.clone(),
            tag: None,
        },
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains(layer.as_str()) && err.contains("mismatch"),
        "{err}"
    );
    // One byte longer than declared.
    bytes[last] ^= 0xff;
    bytes.push(0);
    std::fs::write(&path, &bytes).unwrap();
    let err = import(
        &store,
        &Source::OciDir {
            dir: layout,
            tag: None,
        },
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("size mismatch"), "{err}");
}

#[test]
fn a_diff_id_mismatch_names_the_layer() {
    let tmp = TempDir::new().unwrap();
    let mut layers = layers();
    // The stored layer says one thing, the config's diff_id another.
    layers[2].1 = Layer::default().file("opt/y", 0o755, b"y").tar();
    let image = ImageFixture::new(&layers, serde_json::json!({}));
    let layout = tmp.path().join("layout");
    image.write_layout(&layout);
    let store = Store::open(tmp.path().join("store")).unwrap();
    let imported = import(
        &store,
        &Source::OciDir {
            dir: layout,
            tag: None,
        },
    )
    .unwrap();
    let err = Image::load(&store, &imported.manifest)
        .unwrap()
        .rootfs(&store, Default::default())
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("uncompressed") && text.contains(image.blobs[2].0.as_str()),
        "{text}"
    );
}

#[test]
fn bad_json_is_a_clear_error() {
    let tmp = TempDir::new().unwrap();
    let store = Store::open(tmp.path().join("store")).unwrap();
    let layout = tmp.path().join("layout");
    std::fs::create_dir_all(&layout).unwrap();
    std::fs::write(layout.join("index.json"), b"{\"manifests\": [").unwrap();
    let err = import(
        &store,
        &Source::OciDir {
            dir: layout.clone(),
            tag: None,
        },
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("index.json") && err.contains("invalid JSON"),
        "{err}"
    );
    // A config for another architecture.
    let bad = Digest::of(b"x");
    std::fs::write(layout.join("index.json"), format!(r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{bad}","size":1,"platform":{{"os":"linux","architecture":"arm64"}}}}]}}"#)).unwrap();
    let err = import(
        &store,
        &Source::OciDir {
            dir: layout,
            tag: None,
        },
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("no linux/amd64"), "{err}");
}

#[test]
fn hostile_archive_members_never_leave_the_store() {
    let tmp = TempDir::new().unwrap();
    let image = fixture();
    let mut archive = tar::Builder::new(Vec::new());
    let mut add = |name: &[u8], data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        let gnu = h.as_gnu_mut().unwrap();
        gnu.name[..name.len()].copy_from_slice(name);
        h.set_cksum();
        archive.append(&h, data).unwrap();
    };
    add(b"../../escaped", b"evil");
    add(b"/tmp/absolute-escape", b"evil");
    add(b"index.json", &image.index());
    for (d, bytes) in &image.blobs {
        add(format!("blobs/sha256/{}", d.hex()).as_bytes(), bytes);
    }
    let file = tmp.path().join("in/hostile.tar");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, archive.into_inner().unwrap()).unwrap();
    let store = Store::open(tmp.path().join("store")).unwrap();
    let before = files_below(tmp.path());
    import(&store, &Source::OciArchive(file)).unwrap();
    let after = files_below(tmp.path());
    let new: Vec<_> = after.iter().filter(|p| !before.contains(p)).collect();
    assert!(!new.is_empty());
    for path in new {
        assert!(
            path.starts_with(store.root().join("blobs/sha256")),
            "{}",
            path.display()
        );
    }
    assert!(!std::path::Path::new("/tmp/absolute-escape").exists());
}
