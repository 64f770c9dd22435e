/* errname.h - the symbolic name of an errno value, so outputs compare across libcs. */
#ifndef COMPAT_ERRNAME_H
#define COMPAT_ERRNAME_H

#include <errno.h>
#include <stdio.h>

static const char *errname(int e)
{
	static char other[24];
	switch (e) {
	case 0: return "0";
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case ESRCH: return "ESRCH";
	case EINTR: return "EINTR";
	case EIO: return "EIO";
	case E2BIG: return "E2BIG";
	case ENOEXEC: return "ENOEXEC";
	case EBADF: return "EBADF";
	case ECHILD: return "ECHILD";
	case EAGAIN: return "EAGAIN";
	case ENOMEM: return "ENOMEM";
	case EACCES: return "EACCES";
	case EFAULT: return "EFAULT";
	case EBUSY: return "EBUSY";
	case EEXIST: return "EEXIST";
	case ENODEV: return "ENODEV";
	case ENOTDIR: return "ENOTDIR";
	case EISDIR: return "EISDIR";
	case EINVAL: return "EINVAL";
	case EMFILE: return "EMFILE";
	case ENOTTY: return "ENOTTY";
	case ENOSPC: return "ENOSPC";
	case ESPIPE: return "ESPIPE";
	case EROFS: return "EROFS";
	case EPIPE: return "EPIPE";
	case ERANGE: return "ERANGE";
	case ENAMETOOLONG: return "ENAMETOOLONG";
	case ENOSYS: return "ENOSYS";
	case ENOTSUP: return "ENOTSUP";
	case ENXIO: return "ENXIO";
	case ENFILE: return "ENFILE";
	case ETXTBSY: return "ETXTBSY";
	case EFBIG: return "EFBIG";
	case EMLINK: return "EMLINK";
	case EDEADLK: return "EDEADLK";
	case ENOLCK: return "ENOLCK";
	case ENOTEMPTY: return "ENOTEMPTY";
	case ELOOP: return "ELOOP";
	case ENODATA: return "ENODATA";
	case ENOKEY: return "ENOKEY";
	case EIDRM: return "EIDRM";
	case ENOMSG: return "ENOMSG";
	case EOVERFLOW: return "EOVERFLOW";
	case EBADFD: return "EBADFD";
	case EXDEV: return "EXDEV";
	case ENOTBLK: return "ENOTBLK";
	case ESTALE: return "ESTALE";
	case ENOTSOCK: return "ENOTSOCK";
	case ECONNREFUSED: return "ECONNREFUSED";
	case EADDRINUSE: return "EADDRINUSE";
	case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
	case ENOTCONN: return "ENOTCONN";
	case EISCONN: return "EISCONN";
	case EINPROGRESS: return "EINPROGRESS";
	case EALREADY: return "EALREADY";
	case EAFNOSUPPORT: return "EAFNOSUPPORT";
	case EPROTONOSUPPORT: return "EPROTONOSUPPORT";
	case ESOCKTNOSUPPORT: return "ESOCKTNOSUPPORT";
	case EPROTOTYPE: return "EPROTOTYPE";
	case ENOPROTOOPT: return "ENOPROTOOPT";
	case EDESTADDRREQ: return "EDESTADDRREQ";
	case EMSGSIZE: return "EMSGSIZE";
	case ENETUNREACH: return "ENETUNREACH";
	case ECONNRESET: return "ECONNRESET";
	case ECONNABORTED: return "ECONNABORTED";
	case ENOBUFS: return "ENOBUFS";
	case EDOM: return "EDOM";
	case ETIMEDOUT: return "ETIMEDOUT";
	case ECANCELED: return "ECANCELED";
	case EOWNERDEAD: return "EOWNERDEAD";
	case ENOTRECOVERABLE: return "ENOTRECOVERABLE";
	default:
		snprintf(other, sizeof other, "E#%d", e);
		return other;
	}
}

#endif
