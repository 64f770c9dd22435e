//! Names of the Linux x86_64 system calls that Coracle does not implement (from
//! `asm/unistd_64.h`): the one-time "not implemented" log line and the `SYS_*` constants of
//! the numbers tests call to see `ENOSYS`. The implemented calls take their names from the
//! table (`table.rs`); a number is in one list or the other, never both.

/// The Linux name of system call `nr`, if it has one.
pub fn syscall_name(nr: u64) -> Option<&'static str> {
    let table = crate::implemented();
    match table.binary_search_by_key(&nr, |s| s.nr) {
        Ok(i) => Some(table[i].name),
        Err(_) => not_implemented_name(nr),
    }
}

/// The Linux name in a `SYS_name` identifier.
pub(crate) const fn linux_name(sys: &'static str) -> &'static str {
    match sys.as_bytes() {
        [b'S', b'Y', b'S', b'_', rest @ ..] => match core::str::from_utf8(rest) {
            Ok(name) => name,
            Err(_) => panic!("not UTF-8"),
        },
        _ => panic!("names start with SYS_"),
    }
}

macro_rules! not_implemented {
    ($( $sys:ident = $nr:literal; )*) => {
        /// The numbers of the system calls not implemented, with their Linux names.
        #[allow(non_upper_case_globals)]
        pub mod nr {
            $( pub const $sys: u64 = $nr; )*
        }

        /// The Linux system calls not in the table, as `(number, name)`, in number order
        /// (for `docs/syscalls.md` and the tests).
        #[cfg(test)]
        pub(crate) fn not_implemented() -> &'static [(u64, &'static str)] {
            const LIST: &[(u64, &str)] = &[$( ($nr, linux_name(stringify!($sys))) ),*];
            LIST
        }

        fn not_implemented_name(nr: u64) -> Option<&'static str> {
            match nr {
                $( $nr => Some(linux_name(stringify!($sys))), )*
                _ => None,
            }
        }
    };
}

not_implemented! {
    SYS_getdents = 78;
    SYS_syslog = 103;
    SYS_uselib = 134;
    SYS_ustat = 136;
    SYS_sysfs = 139;
    SYS_vhangup = 153;
    SYS_modify_ldt = 154;
    SYS_pivot_root = 155;
    SYS__sysctl = 156;
    SYS_adjtimex = 159;
    SYS_acct = 163;
    SYS_settimeofday = 164;
    SYS_swapon = 167;
    SYS_swapoff = 168;
    SYS_reboot = 169;
    SYS_sethostname = 170;
    SYS_setdomainname = 171;
    SYS_iopl = 172;
    SYS_ioperm = 173;
    SYS_create_module = 174;
    SYS_init_module = 175;
    SYS_delete_module = 176;
    SYS_get_kernel_syms = 177;
    SYS_query_module = 178;
    SYS_quotactl = 179;
    SYS_nfsservctl = 180;
    SYS_getpmsg = 181;
    SYS_putpmsg = 182;
    SYS_afs_syscall = 183;
    SYS_tuxcall = 184;
    SYS_security = 185;
    SYS_set_thread_area = 205;
    SYS_io_setup = 206;
    SYS_io_destroy = 207;
    SYS_io_getevents = 208;
    SYS_io_submit = 209;
    SYS_io_cancel = 210;
    SYS_get_thread_area = 211;
    SYS_lookup_dcookie = 212;
    SYS_epoll_ctl_old = 214;
    SYS_epoll_wait_old = 215;
    SYS_remap_file_pages = 216;
    SYS_clock_settime = 227;
    SYS_vserver = 236;
    SYS_mbind = 237;
    SYS_set_mempolicy = 238;
    SYS_get_mempolicy = 239;
    SYS_kexec_load = 246;
    SYS_migrate_pages = 256;
    SYS_unshare = 272;
    SYS_move_pages = 279;
    SYS_perf_event_open = 298;
    SYS_fanotify_init = 300;
    SYS_fanotify_mark = 301;
    SYS_clock_adjtime = 305;
    SYS_finit_module = 313;
    SYS_sched_setattr = 314;
    SYS_sched_getattr = 315;
    SYS_seccomp = 317;
    SYS_kexec_file_load = 320;
    SYS_bpf = 321;
    SYS_userfaultfd = 323;
    SYS_membarrier = 324;
    SYS_pkey_alloc = 330;
    SYS_pkey_free = 331;
    SYS_io_pgetevents = 333;
    SYS_io_uring_setup = 425;
    SYS_io_uring_enter = 426;
    SYS_io_uring_register = 427;
    SYS_open_tree = 428;
    SYS_move_mount = 429;
    SYS_fsopen = 430;
    SYS_fsconfig = 431;
    SYS_fsmount = 432;
    SYS_fspick = 433;
    SYS_process_madvise = 440;
    SYS_mount_setattr = 442;
    SYS_quotactl_fd = 443;
    SYS_landlock_create_ruleset = 444;
    SYS_landlock_add_rule = 445;
    SYS_landlock_restrict_self = 446;
    SYS_memfd_secret = 447;
    SYS_process_mrelease = 448;
    SYS_futex_waitv = 449;
    SYS_set_mempolicy_home_node = 450;
    SYS_cachestat = 451;
    SYS_map_shadow_stack = 453;
    SYS_futex_wake = 454;
    SYS_futex_wait = 455;
    SYS_futex_requeue = 456;
    SYS_statmount = 457;
    SYS_listmount = 458;
    SYS_lsm_get_self_attr = 459;
    SYS_lsm_set_self_attr = 460;
    SYS_lsm_list_modules = 461;
    SYS_mseal = 462;
}
