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
