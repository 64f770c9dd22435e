//! Tests of the network options: the `-p` syntax, `--network`, `--add-host`, and what they
//! turn into (QEMU arguments, kernel arguments, the /etc files).

use super::*;

fn joined(args: &[OsString]) -> String {
    args.iter()
        .map(|a| a.to_str().unwrap())
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn publish_forms() {
    let p = parse_publish("8080:80").unwrap();
    assert_eq!(
        p,
        Publish {
            host_ip: None,
            host_port: 8080,
            guest_port: 80,
            protocol: Protocol::Tcp
        }
    );
    let p = parse_publish("127.0.0.1:5353:53/udp").unwrap();
    assert_eq!(p.host_ip, Some(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    assert_eq!(
        (p.host_port, p.guest_port, p.protocol),
        (5353, 53, Protocol::Udp)
    );
    let p = parse_publish("[::1]:8443:443/tcp").unwrap();
    assert_eq!(p.host_ip, Some("::1".parse().unwrap()));
    assert_eq!(p.guest_port, 443);
}

#[test]
fn publish_errors() {
    for bad in [
        "80",
        ":80",
        "127.0.0.1::80",
        "8080:80/sctp",
        "0:80",
        "8080:0",
        "65536:80",
        "x:80",
        "8080:+80",
        "1.2.3:8080:80",
        "[::1:8080:80",
        "a:b:c:d",
        "",
    ] {
        assert!(parse_publish(bad).is_err(), "{bad:?} was accepted");
    }
    let err = parse_publish("127.0.0.1::80").unwrap_err();
    assert!(err.contains("explicit host port"), "{err}");
}

#[test]
fn networks() {
    assert_eq!(parse_network("user"), Ok(Network::User));
    assert_eq!(parse_network("none"), Ok(Network::None));
    assert_eq!(parse_network("tap:tap0"), Ok(Network::Tap("tap0".into())));
    assert!(parse_network("tap:").is_err());
    assert!(parse_network("tap:a,b=c").is_err());
    assert!(parse_network("host").is_err());
    assert_eq!(
        parse_network("app-net"),
        Ok(Network::Named("app-net".into()))
    );
    assert!(parse_network("-x").is_err());
    assert!(parse_network("a/b").is_err());
}

/// A VM given 172.18.0.3 on network `n`, with `db` at 172.18.0.2 already there.
fn attached() -> NetworkArgs {
    let network = crate::networks::NetworkRecord {
        name: "n".into(),
        id: "0123456789ab".into(),
        subnet: Ipv4Addr::new(172, 18, 0, 0),
        prefix: 16,
        group: Ipv4Addr::new(239, 255, 7, 9),
        port: 31000,
        created: 0,
    };
    NetworkArgs {
        network: Network::Named("n".into()),
        attachment: Some(Attachment {
            network,
            address: Ipv4Addr::new(172, 18, 0, 3),
            name: "app".into(),
            peers: vec![("db".into(), Ipv4Addr::new(172, 18, 0, 2))],
        }),
        ..NetworkArgs::default()
    }
}

#[test]
fn named_network_arguments() {
    let mut args = attached();
    let user = "-netdev user,id=n1 -device virtio-net-device,netdev=n1,mac=52:54:00:12:34:56";
    assert_eq!(
        joined(&args.qemu_args(Machine::Microvm)),
        format!(
            "-netdev socket,id=n0,mcast=239.255.7.9:31000,localaddr=127.0.0.1 \
             -device virtio-net-device,netdev=n0,mac=02:42:ac:12:00:03 {user}"
        )
    );
    assert_eq!(
        args.kernel_args(),
        [
            "coracle.ip=172.18.0.3/16",
            "coracle.gw=none",
            "coracle.mac=02:42:ac:12:00:03",
            "coracle.ip6=fd63:6f72:6163::ac12:3/112",
            "coracle.ip1=10.0.2.15/24",
            "coracle.gw1=10.0.2.2",
            "coracle.mac1=52:54:00:12:34:56",
            "coracle.dns=10.0.2.3"
        ]
    );
    // Published ports are forwarded by the user network's card.
    args.publish = vec![parse_publish("127.0.0.1:8080:80").unwrap()];
    assert!(args.check().is_ok());
    assert_eq!(
        joined(&args.qemu_args(Machine::Q35)),
        "-netdev socket,id=n0,mcast=239.255.7.9:31000,localaddr=127.0.0.1 \
         -device virtio-net-pci,netdev=n0,disable-legacy=on,mac=02:42:ac:12:00:03 \
         -netdev user,id=n1,hostfwd=tcp:127.0.0.1:8080-10.0.2.15:80 \
         -device virtio-net-pci,netdev=n1,disable-legacy=on,mac=52:54:00:12:34:56"
    );
    // Not started through `lifecycle`: no card rather than a card on no network.
    args.attachment = None;
    args.publish.clear();
    assert!(args.qemu_args(Machine::Microvm).is_empty());
}

#[test]
fn named_network_etc_files() {
    let mut args = attached();
    let hosts = args.hosts("c0ffee");
    assert!(
        hosts.ends_with(
            "ff02::2\tip6-allrouters\n172.18.0.3\tc0ffee app\n\
             # Coracle network n: its other VMs, kept current by coracle\n172.18.0.2\tdb\n"
        ),
        "{hosts}"
    );
    assert!(!hosts.contains("10.0.2.15"), "{hosts}");
    // The guest's updates (coracle_abi::peer_hosts) find the marker this file has.
    use coracle_abi::peer_hosts::{apply, Change};
    let web = Change::Add {
        name: "web",
        addr: Ipv4Addr::new(172, 18, 0, 4),
    };
    let updated = apply(hosts.as_bytes(), web).unwrap().unwrap();
    assert_eq!(updated, format!("{hosts}172.18.0.4\tweb\n").into_bytes());
    assert_eq!(
        args.resolv_conf(),
        "# Coracle network n: its VMs' names are in /etc/hosts\nnameserver 10.0.2.3\n"
    );
    args.dns = vec!["172.18.0.2".parse().unwrap()];
    assert_eq!(args.resolv_conf(), "nameserver 172.18.0.2\n");
    // The name is not repeated when it is the host name.
    assert!(args.hosts("app").contains("172.18.0.3\tapp\n"));
}

#[test]
fn add_host() {
    assert_eq!(
        parse_add_host("db:10.0.2.20").unwrap(),
        ("db".to_owned(), "10.0.2.20".parse().unwrap())
    );
    assert_eq!(
        parse_add_host("host.docker.internal:host-gateway")
            .unwrap()
            .1,
        IpAddr::V4(GATEWAY)
    );
    assert_eq!(
        parse_add_host("v6:[::1]").unwrap().1,
        "::1".parse::<IpAddr>().unwrap()
    );
    assert!(parse_add_host("nocolon").is_err());
    assert!(parse_add_host("a b:1.2.3.4").is_err());
    assert!(parse_add_host("x:999.1.1.1").is_err());
}

#[test]
fn qemu_and_kernel_arguments() {
    let mut args = NetworkArgs::default();
    assert_eq!(
        joined(&args.qemu_args(Machine::Microvm)),
        "-netdev user,id=n0 -device virtio-net-device,netdev=n0"
    );
    args.publish = vec![
        parse_publish("127.0.0.1:8080:80").unwrap(),
        parse_publish("5353:53/udp").unwrap(),
    ];
    assert_eq!(
        joined(&args.qemu_args(Machine::Q35)),
        "-netdev user,id=n0,hostfwd=tcp:127.0.0.1:8080-10.0.2.15:80,\
         hostfwd=udp::5353-10.0.2.15:53 -device virtio-net-pci,netdev=n0,disable-legacy=on"
    );
    assert_eq!(
        args.kernel_args(),
        [
            "coracle.ip=10.0.2.15/24",
            "coracle.gw=10.0.2.2",
            "coracle.dns=10.0.2.3"
        ]
    );
    args.network = Network::None;
    assert!(args.qemu_args(Machine::Microvm).is_empty());
    assert!(args.kernel_args().is_empty());
    assert!(args.check().is_err(), "-p with --network none");
    args.network = Network::Tap("tap0".into());
    args.publish.clear();
    assert_eq!(
        joined(&args.qemu_args(Machine::Microvm)),
        "-netdev tap,id=n0,ifname=tap0,script=no,downscript=no \
         -device virtio-net-device,netdev=n0"
    );
}

#[test]
fn etc_files() {
    let mut args = NetworkArgs {
        add_host: vec![parse_add_host("db:10.0.2.20").unwrap()],
        ..NetworkArgs::default()
    };
    let hosts = args.hosts("web");
    assert!(hosts.starts_with("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"));
    assert!(
        hosts.ends_with("10.0.2.20\tdb\n10.0.2.15\tweb\n"),
        "{hosts}"
    );
    assert_eq!(args.resolv_conf(), "nameserver 10.0.2.3\n");
    args.dns = vec!["1.1.1.1".parse().unwrap(), "9.9.9.9".parse().unwrap()];
    assert_eq!(
        args.resolv_conf(),
        "nameserver 1.1.1.1\nnameserver 9.9.9.9\n"
    );
    args.network = Network::None;
    args.dns.clear();
    assert!(!args.hosts("web").contains("10.0.2.15"));
    assert_eq!(args.resolv_conf(), "");
}
