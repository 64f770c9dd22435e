use super::*;
use alloc::string::ToString;

const DB: Ipv4Addr = Ipv4Addr::new(172, 18, 0, 2);
const DB2: Ipv4Addr = Ipv4Addr::new(172, 18, 0, 5);

/// A file as the host writes it at boot.
const BOOT: &str = "127.0.0.1\tlocalhost\n10.9.9.9\tdb\n172.18.0.3\tapp\n\
                    # Coracle network appnet: its other VMs, kept current by coracle\n\
                    172.18.0.4\tcache\n";

fn applied(hosts: &str, record: &str) -> Result<Option<String>, Error> {
    let change = Change::parse(record.as_bytes())?;
    apply(hosts.as_bytes(), change).map(|o| o.map(|v| String::from_utf8(v).unwrap()))
}

#[test]
fn records_round_trip() {
    for change in [
        Change::Add {
            name: "db",
            addr: DB,
        },
        Change::Remove {
            name: "my_db.v-2",
            addr: DB2,
        },
    ] {
        let text = change.encode();
        assert_eq!(Change::parse(text.as_bytes()), Ok(change));
    }
    assert_eq!(
        Change::Add {
            name: "db",
            addr: DB
        }
        .encode(),
        "host add name=db addr=172.18.0.2"
    );
    assert_eq!(
        Change::parse(b" host del addr=172.18.0.5 name=db "),
        Ok(Change::Remove {
            name: "db",
            addr: DB2
        })
    );
}

#[test]
fn bad_records_are_refused() {
    let bad = |r: &[u8]| Change::parse(r).unwrap_err();
    assert_eq!(bad(b""), Error::Malformed);
    assert_eq!(bad(b"host"), Error::Malformed);
    assert_eq!(bad(b"hosts add name=db addr=1.2.3.4"), Error::Malformed);
    assert_eq!(bad(b"host put name=db addr=1.2.3.4"), Error::Malformed);
    assert_eq!(bad(b"host add name=db"), Error::Malformed);
    assert_eq!(bad(b"host add addr=1.2.3.4"), Error::Malformed);
    assert_eq!(
        bad(b"host add name=a name=b addr=1.2.3.4"),
        Error::Malformed
    );
    assert_eq!(bad(b"host add name=db addr=1.2.3.4 x"), Error::Malformed);
    assert_eq!(bad(b"host add name=\xff addr=1.2.3.4"), Error::Malformed);
    assert_eq!(bad(b"host add name= addr=1.2.3.4"), Error::BadName);
    assert_eq!(bad(b"host add name=-db addr=1.2.3.4"), Error::BadName);
    assert_eq!(bad(b"host add name=d#b addr=1.2.3.4"), Error::BadName);
    let long = alloc::format!("host add name={} addr=1.2.3.4", "a".repeat(MAX_NAME + 1));
    assert_eq!(bad(long.as_bytes()), Error::BadName);
    assert_eq!(bad(b"host add name=db addr=1.2.3"), Error::BadAddress);
    assert_eq!(bad(b"host add name=db addr=1.2.3.256"), Error::BadAddress);
    assert_eq!(bad(b"host add name=db addr=::1"), Error::BadAddress);
    assert!(valid_name(b"a"));
    assert!(valid_name("a".repeat(MAX_NAME).as_bytes()));
}

#[test]
fn a_new_vm_is_appended_after_the_marker() {
    let got = applied(BOOT, "host add name=db addr=172.18.0.2")
        .unwrap()
        .unwrap();
    // The --add-host line of the same name stays first (it wins, as under Docker).
    assert_eq!(got, BOOT.to_string() + "172.18.0.2\tdb\n");
    // The same record again changes nothing.
    assert_eq!(applied(&got, "host add name=db addr=172.18.0.2"), Ok(None));
}

#[test]
fn a_replaced_vm_gets_its_new_address() {
    let one = applied(BOOT, "host add name=db addr=172.18.0.2")
        .unwrap()
        .unwrap();
    let two = applied(&one, "host add name=db addr=172.18.0.5")
        .unwrap()
        .unwrap();
    assert_eq!(two, BOOT.to_string() + "172.18.0.5\tdb\n");
    // The old VM's late `del` does not remove its replacement.
    assert_eq!(applied(&two, "host del name=db addr=172.18.0.2"), Ok(None));
    let gone = applied(&two, "host del name=db addr=172.18.0.5")
        .unwrap()
        .unwrap();
    assert_eq!(gone, BOOT);
}

#[test]
fn lines_before_the_marker_are_never_touched() {
    // `db` before the marker is the --add-host line: a del of that address keeps it.
    assert_eq!(applied(BOOT, "host del name=db addr=10.9.9.9"), Ok(None));
    assert_eq!(applied(BOOT, "host del name=app addr=172.18.0.3"), Ok(None));
    let got = applied(BOOT, "host del name=cache addr=172.18.0.4")
        .unwrap()
        .unwrap();
    assert!(got.ends_with("kept current by coracle\n"), "{got}");
    assert!(got.starts_with("127.0.0.1\tlocalhost\n10.9.9.9\tdb\n172.18.0.3\tapp\n"));
}

#[test]
fn a_file_without_the_marker_gets_one() {
    let got = applied("127.0.0.1 localhost", "host add name=db addr=172.18.0.2")
        .unwrap()
        .unwrap();
    assert_eq!(
        got,
        "127.0.0.1 localhost\n# Coracle network: its other VMs\n172.18.0.2\tdb\n"
    );
    assert_eq!(applied("", "host del name=db addr=172.18.0.2"), Ok(None));
    // Lines a user added after the marker stay unless they name the VM.
    let edited = "# Coracle network x\n# mine\n1.2.3.4 db alias\n";
    let got = applied(edited, "host add name=web addr=172.18.0.9")
        .unwrap()
        .unwrap();
    assert_eq!(
        got,
        "# Coracle network x\n# mine\n1.2.3.4 db alias\n172.18.0.9\tweb\n"
    );
}

#[test]
fn sizes_are_bounded() {
    let mut hosts = String::from("# Coracle network n\n");
    for i in 0..MAX_PEERS {
        hosts += &alloc::format!("10.0.{}.{}\tvm{i}\n", i / 256, i % 256);
    }
    assert_eq!(
        applied(&hosts, "host add name=one-more addr=10.1.0.1"),
        Err(Error::Full)
    );
    // Replacing a listed name still works at the limit.
    assert!(applied(&hosts, "host add name=vm7 addr=10.1.0.1")
        .unwrap()
        .is_some());
    let huge = "#".repeat(MAX_FILE + 1);
    assert_eq!(
        applied(&huge, "host add name=a addr=10.1.0.1"),
        Err(Error::Full)
    );
}
