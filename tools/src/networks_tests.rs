//! Tests of Coracle networks' names, subnets, addresses and records.

use super::*;

#[test]
fn names() {
    for good in ["n", "app-net", "a_b.c", "9lives"] {
        assert_eq!(check_name(good), Ok(()), "{good}");
    }
    for bad in [
        "", "-a", ".a", "a b", "a/b", "a:b", "user", "none", "host", "bridge",
    ] {
        assert!(check_name(bad).is_err(), "{bad:?} was accepted");
    }
    assert!(check_name(&"a".repeat(65)).is_err());
}

#[test]
fn subnets() {
    assert_eq!(
        parse_subnet("10.9.0.0/16"),
        Ok((Ipv4Addr::new(10, 9, 0, 0), 16))
    );
    assert_eq!(
        parse_subnet("192.168.5.8/29"),
        Ok((Ipv4Addr::new(192, 168, 5, 8), 29))
    );
    for bad in [
        "10.9.0.0",
        "10.9.0.0/7",
        "10.9.0.0/30",
        "10.9.0/16",
        "x/16",
        "10.9.0.0/a",
    ] {
        assert!(parse_subnet(bad).is_err(), "{bad:?} was accepted");
    }
    let err = parse_subnet("10.9.1.0/16").unwrap_err();
    assert!(err.contains("10.9.0.0/16"), "{err}");
}

#[test]
fn subnets_are_taken_in_order_around_the_used_ones() {
    let s = |b: u8| (Ipv4Addr::new(172, b, 0, 0), 16);
    assert_eq!(free_subnet(&[]), Some(s(18)));
    assert_eq!(free_subnet(&[s(18), s(19)]), Some(s(20)));
    // A smaller user subnet inside 172.18/16 still takes it.
    let inside = (Ipv4Addr::new(172, 18, 4, 0), 24);
    assert_eq!(free_subnet(&[inside]), Some(s(19)));
    // A bigger one covering them all leaves none.
    assert_eq!(free_subnet(&[(Ipv4Addr::new(172, 16, 0, 0), 12)]), None);
}

fn record(name: &str, subnet: (Ipv4Addr, u8)) -> NetworkRecord {
    NetworkRecord {
        name: name.into(),
        id: "0".into(),
        subnet: subnet.0,
        prefix: subnet.1,
        group: Ipv4Addr::new(239, 255, 0, 1),
        port: 20000,
        created: 0,
    }
}

#[test]
fn addresses_start_at_two_and_skip_taken_and_broadcast() {
    let n = record("n", (Ipv4Addr::new(192, 168, 5, 8), 29));
    let a = |d: u8| Ipv4Addr::new(192, 168, 5, d);
    assert_eq!(n.free_address(&[]), Some(a(10)));
    assert_eq!(n.free_address(&[a(10), a(12)]), Some(a(11)));
    // .8 network, .9 kept for a gateway, .15 broadcast: five for VMs.
    assert_eq!(n.free_address(&[a(10), a(11), a(12), a(13)]), Some(a(14)));
    assert_eq!(n.free_address(&[a(10), a(11), a(12), a(13), a(14)]), None);
}

#[test]
fn new_networks_avoid_overlaps_and_shared_groups() {
    let first = record("a", (Ipv4Addr::new(172, 18, 0, 0), 16));
    let second = new_record("b", None, std::slice::from_ref(&first)).unwrap();
    assert_eq!(
        (second.subnet, second.prefix),
        (Ipv4Addr::new(172, 19, 0, 0), 16)
    );
    assert_ne!(second.port, first.port);
    assert_ne!(second.group, first.group);
    assert_eq!(second.group.octets()[..2], [239, 255]);
    assert_eq!(second.id.len(), 12);
    let err = new_record("c", Some((Ipv4Addr::new(172, 18, 3, 0), 24)), &[first]).unwrap_err();
    assert!(err.to_string().contains("overlaps network a"), "{err}");
}

#[test]
fn macs_follow_the_address() {
    let a = Attachment {
        network: record("n", (Ipv4Addr::new(10, 1, 0, 0), 16)),
        address: Ipv4Addr::new(10, 1, 2, 254),
        name: "x".into(),
        peers: Vec::new(),
    };
    assert_eq!(a.mac(), "02:42:0a:01:02:fe");
}
