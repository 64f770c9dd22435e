/* net_ifaddrs: getifaddrs (RTM_GETLINK and RTM_GETADDR over netlink) and getaddrinfo with
 * AI_ADDRCONFIG, plus a raw netlink socket's name and a dump's framing. The host has more
 * interfaces than the guest, so only lo's entries and IPv4 answers are printed. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* uapi/linux/netlink.h and rtnetlink.h, spelled out: musl-gcc has no kernel headers. */
#define NETLINK_ROUTE 0
#define NLM_F_REQUEST 1
#define NLM_F_MULTI 2
#define NLM_F_DUMP 0x300
#define NLMSG_DONE 3
#define RTM_NEWLINK 16
#define RTM_GETLINK 18
#define RTM_NEWADDR 20
#define RTM_GETADDR 22
struct sockaddr_nl {
	unsigned short nl_family, nl_pad;
	unsigned nl_pid, nl_groups;
};
struct nlmsghdr {
	unsigned nlmsg_len;
	unsigned short nlmsg_type, nlmsg_flags;
	unsigned nlmsg_seq, nlmsg_pid;
};
struct ifinfomsg {
	unsigned char ifi_family, pad;
	unsigned short ifi_type;
	int ifi_index;
	unsigned ifi_flags, ifi_change;
};
struct ifaddrmsg {
	unsigned char ifa_family, ifa_prefixlen, ifa_flags, ifa_scope;
	unsigned ifa_index;
};
#define NLMSG_DATA(h) ((void *)((char *)(h) + sizeof(struct nlmsghdr)))
#define NLMSG_ALIGN(n) (((n) + 3) & ~3u)

static void show_ifaddrs(void)
{
	struct ifaddrs *ifa, *i;
	if (getifaddrs(&ifa)) {
		perror("getifaddrs");
		return;
	}
	for (i = ifa; i; i = i->ifa_next) {
		char buf[64] = "-", mask[64] = "-";
		int fam;
		if (strcmp(i->ifa_name, "lo"))
			continue;
		fam = i->ifa_addr ? i->ifa_addr->sa_family : -1;
		if (fam == AF_INET) {
			inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, buf, sizeof buf);
			inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_netmask)->sin_addr, mask,
				  sizeof mask);
		} else if (fam == AF_INET6) {
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, buf,
				  sizeof buf);
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)i->ifa_netmask)->sin6_addr, mask,
				  sizeof mask);
		}
		printf("ifaddr %s family %d flags %#x addr %s mask %s\n", i->ifa_name, fam,
		       i->ifa_flags & (IFF_UP | IFF_LOOPBACK | IFF_RUNNING), buf, mask);
	}
	freeifaddrs(ifa);
}

static void show_gai(const char *host, int family, int flags)
{
	struct addrinfo hints = {.ai_family = family, .ai_flags = flags,
				 .ai_socktype = SOCK_STREAM}, *res, *r;
	int e = getaddrinfo(host, "80", &hints, &res);
	printf("getaddrinfo(%s, family %d, flags %#x) = %d\n", host, family, flags, e);
	if (e)
		return;
	for (r = res; r; r = r->ai_next) {
		char buf[64];
		void *a = r->ai_family == AF_INET ? (void *)&((struct sockaddr_in *)r->ai_addr)->sin_addr
						  : (void *)&((struct sockaddr_in6 *)r->ai_addr)->sin6_addr;
		inet_ntop(r->ai_family, a, buf, sizeof buf);
		printf("  family %d proto %d %s\n", r->ai_family, r->ai_protocol, buf);
	}
	freeaddrinfo(res);
}

/* A raw dump: the socket's name, then the framing of the reply (record types, the sequence
 * and port id echoed, NLMSG_DONE's error). Only lo's records are looked at. */
static void raw_dump(int type)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	struct sockaddr_nl me = {.nl_family = AF_NETLINK}, from;
	socklen_t len = sizeof me;
	struct {
		struct nlmsghdr h;
		unsigned char family;
	} req = {.h = {.nlmsg_len = sizeof req, .nlmsg_type = type,
		       .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = 1234},
		 .family = AF_UNSPEC};
	struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
	char buf[32768];
	int done = 0, lo_records = 0;
	if (fd < 0 || bind(fd, (struct sockaddr *)&me, sizeof me) ||
	    getsockname(fd, (struct sockaddr *)&me, &len)) {
		perror("netlink socket");
		return;
	}
	printf("type %d: bound len %u family %d pid is nonzero %d\n", type, len, me.nl_family,
	       me.nl_pid != 0);
	if (sendto(fd, &req, sizeof req, 0, (struct sockaddr *)&kernel, sizeof kernel) !=
	    sizeof req)
		perror("sendto");
	while (!done) {
		struct iovec iov = {buf, sizeof buf};
		struct msghdr msg = {.msg_name = &from, .msg_namelen = sizeof from,
				     .msg_iov = &iov, .msg_iovlen = 1};
		long n = recvmsg(fd, &msg, 0), off;
		struct nlmsghdr *h;
		if (n <= 0) {
			perror("recvmsg");
			break;
		}
		if (from.nl_pid != 0 || msg.msg_flags & MSG_TRUNC)
			printf("from pid %u flags %#x\n", from.nl_pid, msg.msg_flags);
		for (off = 0; off + (long)sizeof *h <= n; off += NLMSG_ALIGN(h->nlmsg_len)) {
			h = (struct nlmsghdr *)(buf + off);
			if (h->nlmsg_len < sizeof *h || h->nlmsg_len > n - off)
				break;
			if (h->nlmsg_seq != 1234 || h->nlmsg_pid != me.nl_pid)
				printf("bad seq %u or pid\n", h->nlmsg_seq);
			if (h->nlmsg_type == NLMSG_DONE) {
				printf("done len %u flags %#x error %d\n", h->nlmsg_len,
				       h->nlmsg_flags, *(int *)NLMSG_DATA(h));
				done = 1;
			} else if (h->nlmsg_type == RTM_NEWLINK) {
				struct ifinfomsg *i = NLMSG_DATA(h);
				if (i->ifi_index == 1) {
					lo_records++;
					printf("link lo type %u flags %#x multi %d\n", i->ifi_type,
					       i->ifi_flags, !!(h->nlmsg_flags & NLM_F_MULTI));
				}
			} else if (h->nlmsg_type == RTM_NEWADDR) {
				struct ifaddrmsg *a = NLMSG_DATA(h);
				if (a->ifa_index == 1) {
					lo_records++;
					printf("addr lo family %u prefix %u scope %u\n",
					       a->ifa_family, a->ifa_prefixlen, a->ifa_scope);
				}
			} else {
				printf("type %u\n", h->nlmsg_type);
			}
		}
	}
	printf("lo records %d\n", lo_records);
	close(fd);
}

#ifdef __GLIBC__
/* Whether an IPv4 address other than loopback is configured (glibc's __check_pf rule). */
static int seen_ipv4(void)
{
	struct ifaddrs *ifa, *i;
	int seen = 0;
	if (getifaddrs(&ifa))
		return 0;
	for (i = ifa; i; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET &&
		    ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr != htonl(INADDR_LOOPBACK))
			seen = 1;
	freeifaddrs(ifa);
	return seen;
}
#endif

/* AI_ADDRCONFIG with AF_INET depends on the machine's interfaces (the host has more than the
 * guest): glibc answers only when a non-loopback IPv4 address exists (else EAI_NONAME), musl
 * when a UDP socket can connect to 127.0.0.1. What is printed is whether the answer agrees
 * with the interfaces getifaddrs gave, and that an answer is 127.0.0.1 only. */
static void check_gai(const char *host)
{
	struct addrinfo hints = {.ai_family = AF_INET, .ai_flags = AI_ADDRCONFIG,
				 .ai_socktype = SOCK_STREAM}, *res, *r;
#ifdef __GLIBC__
	int expect = seen_ipv4();
#else
	int expect = 1;
#endif
	int e = getaddrinfo(host, "80", &hints, &res), good;
	if (e == 0) {
		good = expect;
		for (r = res; r; r = r->ai_next)
			if (r->ai_family != AF_INET ||
			    ((struct sockaddr_in *)r->ai_addr)->sin_addr.s_addr != htonl(INADDR_LOOPBACK))
				good = 0;
		freeaddrinfo(res);
	} else {
		good = !expect && e == EAI_NONAME;
	}
	printf("getaddrinfo(%s, AF_INET, AI_ADDRCONFIG) agrees with the interfaces: %d\n", host,
	       good);
	if (!good)
		printf("  expected %d, got %d\n", expect, e);
}

int main(void)
{
	int fd;
	show_ifaddrs();
	check_gai("localhost");
	check_gai("127.0.0.1");
	show_gai("127.0.0.1", AF_UNSPEC, AI_ADDRCONFIG | AI_NUMERICHOST);
	raw_dump(RTM_GETLINK);
	raw_dump(RTM_GETADDR);
	fd = socket(AF_NETLINK, SOCK_STREAM, NETLINK_ROUTE);
	printf("stream socket %d %s\n", fd, fd < 0 ? strerror(errno) : "");
	return 0;
}
