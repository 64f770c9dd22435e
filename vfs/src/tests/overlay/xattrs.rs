//! Extended attributes on the overlay: read from the layer that holds the object, kept by
//! copy-up in every namespace, set and removed on the upper copy only.

use super::*;
use crate::xattr::XattrOp;

fn set(node: &Arc<dyn Inode>, name: &str, value: &str) -> Result<Vec<u8>> {
    node.xattr(XattrOp::Set {
        name: name.as_bytes(),
        value: value.as_bytes(),
        flags: 0,
    })
}

fn get(node: &Arc<dyn Inode>, name: &str) -> Result<Vec<u8>> {
    node.xattr(XattrOp::Get(name.as_bytes()))
}

fn list(node: &Arc<dyn Inode>) -> Vec<u8> {
    node.xattr(XattrOp::List).unwrap()
}

#[test]
fn xattrs_are_read_from_the_lower_layer_and_kept_by_copy_up() {
    let ov = Ov::new(|root| {
        image(root);
        let passwd = root
            .lookup(&caller(0, 0, root), b"etc")
            .and_then(|etc| etc.lookup(&caller(0, 0, root), b"passwd"))
            .unwrap();
        for (name, value) in [("user.a", "1"), ("trusted.t", "2"), ("security.s", "3")] {
            set(&passwd, name, value).unwrap();
        }
    });
    let passwd = ov.get("/etc/passwd").unwrap();
    assert_eq!(get(&passwd, "user.a").unwrap(), b"1");
    let names = list(&passwd);
    assert_eq!(names, list(&ov.lower_get("etc/passwd").unwrap()));
    // A write copies the file up with all three; the lower file keeps its own.
    passwd.write_at(0, b"x").unwrap();
    assert_eq!(list(&passwd), names);
    assert_eq!(get(&passwd, "trusted.t").unwrap(), b"2");
    assert_eq!(get(&passwd, "security.s").unwrap(), b"3");
    set(&passwd, "user.a", "changed").unwrap();
    passwd.xattr(XattrOp::Remove(b"trusted.t")).unwrap();
    assert_eq!(get(&passwd, "user.a").unwrap(), b"changed");
    assert_eq!(err(get(&passwd, "trusted.t")), Errno::ENODATA);
    let lower = ov.lower_get("etc/passwd").unwrap();
    assert_eq!(get(&lower, "user.a").unwrap(), b"1");
    assert_eq!(get(&lower, "trusted.t").unwrap(), b"2");
    assert_eq!(contents(&lower), b"root:x:0:0\n");

    // Setting one on a lower object copies it up (a directory too); removing a name it
    // does not have is ENODATA and copies nothing.
    let motd = ov.get("/etc/motd").unwrap();
    assert_eq!(
        err(motd.xattr(XattrOp::Remove(b"user.none"))),
        Errno::ENODATA
    );
    set(&motd, "user.m", "v").unwrap();
    assert_eq!(get(&motd, "user.m").unwrap(), b"v");
    assert_eq!(list(&ov.lower_get("etc/motd").unwrap()), b"");
    assert_eq!(ov.read("/etc/motd"), b"hello\n", "copied up with its data");
    let bin = ov.get("/bin").unwrap();
    set(&bin, "user.d", "dir").unwrap();
    assert_eq!(get(&ov.get("/bin").unwrap(), "user.d").unwrap(), b"dir");
    assert_eq!(ov.ls("/bin"), [".", "..", "sh"]);
}
