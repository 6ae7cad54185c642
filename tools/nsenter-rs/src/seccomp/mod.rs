//! Seccomp: `--seccomp default|unconfined|FILE`.
//!
//! A profile (the built-in default, Docker's, or an OCI `linux.seccomp`) is resolved
//! against the container's capabilities, the architecture and the kernel version
//! (`includes`/`excludes`), its syscall names are looked up in the x86_64 table (names the
//! architecture lacks are skipped, as runc does), and it is compiled in-process to classic
//! BPF by our own generator ([`bpf`]): no libseccomp, and a binary search over the syscall
//! numbers rather than a compare per syscall.
//!
//! Only the native x86_64 ABI is filtered by number. Calls through other ABIs (i386 by
//! `int 0x80`, x32) are refused: they get the profile's default action, or EPERM when that
//! action lets calls through, so a deny-list profile cannot be side-stepped by a 32-bit
//! call. 32-bit programs therefore do not run under a filter; use `--seccomp unconfined`.
//!
//! Rules for one syscall: those with argument conditions are tried first, in file order
//! (the first that holds decides); then the first rule without conditions; else the default.

mod bpf;
mod default;
mod profile;
mod syscalls;

use std::path::PathBuf;

use caps::CapsHashSet;

use crate::error::Error;
use bpf::{Outcome, Plan};
pub use profile::Profile;
use profile::{Action, Filter as Cond, Rule};

/// The value of `--seccomp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// Docker's default profile
    Default,
    /// no filter
    Unconfined,
    /// a profile file (Docker or OCI JSON)
    File(PathBuf),
}

/// `default`, `unconfined`, or a file name.
pub fn parse_choice(s: &str) -> Result<Choice, String> {
    match s {
        "" => Err("needs a value: default, unconfined or a profile FILE".into()),
        "default" => Ok(Choice::Default),
        "unconfined" => Ok(Choice::Unconfined),
        f => Ok(Choice::File(PathBuf::from(f))),
    }
}

/// A compiled filter, ready to load.
#[derive(Debug, Clone)]
pub struct Program {
    insns: Vec<libc::sock_filter>,
    flags: u32,
}

/// Read (for a file), resolve and compile the chosen profile for a process with the
/// capability set `caps` (its bounding set); `None` for unconfined.
pub fn compile(choice: &Choice, caps: &CapsHashSet) -> Result<Option<Program>, Error> {
    let started = std::time::Instant::now();
    let owned;
    let (profile, path) = match choice {
        Choice::Unconfined => return Ok(None),
        Choice::Default => (&default::DEFAULT, None),
        Choice::File(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
                what: format!("cannot read seccomp profile {}", path.display()),
                source,
            })?;
            owned = profile::parse(&text).map_err(|msg| Error::SeccompProfile {
                path: path.clone(),
                msg,
            })?;
            (&owned, Some(path))
        }
    };
    let plan = resolve(profile, caps, &mut kernel_version);
    let insns = bpf::generate(&plan);
    if insns.len() > bpf::MAX_INSNS {
        let msg = format!(
            "the filter has {} instructions, more than the kernel's {}",
            insns.len(),
            bpf::MAX_INSNS
        );
        return Err(match path {
            Some(p) => Error::SeccompProfile {
                path: p.clone(),
                msg,
            },
            None => Error::Setup(msg),
        });
    }
    common::debug!(
        "seccomp filter: {} instructions, compiled in {:?}",
        insns.len(),
        started.elapsed()
    );
    Ok(Some(Program {
        insns,
        flags: profile.flags,
    }))
}

/// Install the filter on this thread: seccomp(SECCOMP_SET_MODE_FILTER). Needs no_new_privs
/// or CAP_SYS_ADMIN.
pub fn load(p: &Program) -> Result<(), Error> {
    let prog = libc::sock_fprog {
        len: p.insns.len() as u16,
        filter: p.insns.as_ptr() as *mut libc::sock_filter,
    };
    const SECCOMP_SET_MODE_FILTER: libc::c_ulong = 1;
    // SAFETY: prog points at our instructions, which outlive the call (the kernel copies them).
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_SET_MODE_FILTER,
            libc::c_ulong::from(p.flags),
            &prog as *const libc::sock_fprog,
        )
    };
    if rc != 0 {
        return Err(Error::Sys {
            what: "cannot load the seccomp filter".into(),
            source: nix::errno::Errno::last(),
        });
    }
    Ok(())
}

/// Our architecture's names in `includes.arches`/`excludes.arches` (Go's and the kernel's).
const NATIVE_ARCHES: [&str; 2] = ["amd64", "x86_64"];

/// Whether a rule applies here: every `includes` holds and no `excludes` does. `caps` are
/// the names of the capabilities (`CAP_SYS_ADMIN`).
fn applies(r: &Rule, caps: &[String], kernel: &mut impl FnMut() -> (u32, u32)) -> bool {
    let has_cap = |name: &str| caps.iter().any(|c| c == name);
    let native = |a: &str| NATIVE_ARCHES.contains(&a);
    let inc: &Cond = &r.includes;
    let exc: &Cond = &r.excludes;
    if !inc.caps.iter().all(|c| has_cap(c)) || exc.caps.iter().any(|c| has_cap(c)) {
        return false;
    }
    if (!inc.arches.is_empty() && !inc.arches.iter().any(|a| native(a)))
        || exc.arches.iter().any(|a| native(a))
    {
        return false;
    }
    if inc.min_kernel.is_some_and(|m| kernel() < m) || exc.min_kernel.is_some_and(|m| kernel() >= m)
    {
        return false;
    }
    true
}

/// One number's rules: those with conditions (in order), and the first action without.
type Rules = (Vec<(Vec<profile::Arg>, u32)>, Option<u32>);

/// The profile's rules as outcomes per x86_64 syscall number.
fn resolve(profile: &Profile, caps: &CapsHashSet, kernel: &mut impl FnMut() -> (u32, u32)) -> Plan {
    let default = profile.default_action;
    let foreign = if default.lets_through() {
        Action::Errno(libc::EPERM as u16)
    } else {
        default
    };
    let cap_names: Vec<String> = caps.iter().map(|c| c.to_string()).collect();
    // per number: conditional rules in order, the first unconditional action
    let mut per: Vec<Rules> = vec![Rules::default(); syscalls::MAX_NR as usize + 1];
    for r in profile
        .rules
        .iter()
        .filter(|r| applies(r, &cap_names, kernel))
    {
        let mut add = |nr: u32| {
            let entry = &mut per[nr as usize];
            if r.args.is_empty() {
                entry.1.get_or_insert(r.action.ret());
            } else {
                entry.0.push((r.args.to_vec(), r.action.ret()));
            }
        };
        if r.nrs.is_empty() {
            // names the architecture lacks are skipped
            r.names
                .iter()
                .filter_map(|n| syscalls::number(n))
                .for_each(&mut add);
        } else {
            r.nrs
                .iter()
                .copied()
                .filter(|n| *n <= syscalls::MAX_NR)
                .for_each(&mut add);
        }
    }
    let syscalls = per
        .into_iter()
        .zip(0u32..)
        .filter_map(|((conds, uncond), nr)| {
            let fallback = uncond.unwrap_or(default.ret());
            if conds.is_empty() {
                (fallback != default.ret()).then_some((nr, Outcome::Ret(fallback)))
            } else {
                Some((
                    nr,
                    Outcome::Chain {
                        rules: conds,
                        fallback,
                    },
                ))
            }
        })
        .collect();
    Plan {
        syscalls,
        default: default.ret(),
        foreign: foreign.ret(),
    }
}

/// The running kernel's MAJOR.MINOR (0.0 when unknown: `minKernel` rules then stay out).
fn kernel_version() -> (u32, u32) {
    let u = rustix::system::uname();
    profile::parse_kernel(&u.release().to_string_lossy()).unwrap_or((0, 0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bpf::tests::run;
    use bpf::{ARCH_X86_64, X32_BIT};
    use caps::Capability;

    const EPERM: u32 = 0x0005_0001;
    const ENOSYS: u32 = 0x0005_0026;
    const ALLOW: u32 = 0x7fff_0000;

    fn nr(name: &str) -> u32 {
        syscalls::number(name).unwrap()
    }

    fn default_prog(caps: &[Capability]) -> Vec<libc::sock_filter> {
        let set: CapsHashSet = caps.iter().copied().collect();
        bpf::generate(&resolve(&default::DEFAULT, &set, &mut || (6, 18)))
    }

    fn call(prog: &[libc::sock_filter], name: &str, args: [u64; 6]) -> u32 {
        run(prog, ARCH_X86_64, nr(name), args)
    }

    #[test]
    fn syscall_table_is_sorted_and_right() {
        assert!(syscalls::X86_64.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(nr("read"), 0);
        assert_eq!(nr("mkdir"), libc::SYS_mkdir as u32);
        assert_eq!(nr("unshare"), libc::SYS_unshare as u32);
        assert_eq!(nr("clone3"), 435);
        assert_eq!(nr("mseal"), 462);
        assert_eq!(syscalls::number("chown32"), None);
    }

    #[test]
    fn built_in_numbers_match_the_names() {
        for r in default::DEFAULT.rules.iter() {
            assert_eq!(r.names.len(), r.nrs.len());
            for (n, nr) in r.names.iter().zip(r.nrs) {
                assert_eq!(syscalls::number(n).unwrap_or(u32::MAX), *nr, "{n}");
            }
        }
        assert_eq!(syscalls::number_const("zzz"), u32::MAX);
        assert_eq!(syscalls::number_const("_sysctl"), 156);
    }

    /// The most instructions the filter runs for one call of the default profile: the search
    /// (depth ~7) and, for personality, five 64-bit compares. (The kernel also caches the
    /// verdict of calls whose outcome does not depend on their arguments.)
    #[test]
    fn default_profile_runs_few_instructions() {
        let p = default_prog(&crate::capset::DEFAULT);
        let worst = (0..=syscalls::MAX_NR + 2)
            .map(|nr| bpf::tests::steps(&p, ARCH_X86_64, nr, [0x11, 0, 0, 0, 0, 0]))
            .max()
            .unwrap();
        assert!(worst <= 32, "{worst} instructions");
        let read = bpf::tests::steps(&p, ARCH_X86_64, 0, [0; 6]);
        assert!(read <= 12, "read: {read} instructions");
    }

    #[test]
    fn default_profile_without_sys_admin() {
        let caps = crate::capset::DEFAULT;
        let p = default_prog(&caps);
        assert!(p.len() < 200, "{} instructions", p.len());
        assert_eq!(call(&p, "read", [0; 6]), ALLOW);
        assert_eq!(call(&p, "mkdirat", [0; 6]), ALLOW);
        for denied in [
            "unshare",
            "setns",
            "mount",
            "keyctl",
            "add_key",
            "request_key",
            "bpf",
            "perf_event_open",
            "userfaultfd",
            "io_uring_setup",
            "io_uring_enter",
            "kexec_load",
            "open_by_handle_at",
            "kcmp",
            "reboot",
            "init_module",
            "settimeofday",
            "syslog",
            "acct",
            "iopl",
            "vhangup",
            "mbind",
        ] {
            assert_eq!(call(&p, denied, [0; 6]), EPERM, "{denied}");
        }
        // ptrace: allowed on kernels from 4.8 (Docker); chroot: CAP_SYS_CHROOT is in the default set
        assert_eq!(call(&p, "ptrace", [0; 6]), ALLOW);
        assert_eq!(call(&p, "chroot", [0; 6]), ALLOW);
        // clone: fork and threads yes, namespaces no; clone3 ENOSYS
        assert_eq!(call(&p, "clone", [0x11, 0, 0, 0, 0, 0]), ALLOW);
        assert_eq!(call(&p, "clone", [0x3d0f00, 0, 0, 0, 0, 0]), ALLOW);
        assert_eq!(call(&p, "clone", [0x1000_0011, 0, 0, 0, 0, 0]), EPERM);
        assert_eq!(call(&p, "clone", [0x2_0000, 0, 0, 0, 0, 0]), EPERM);
        assert_eq!(call(&p, "clone3", [0; 6]), ENOSYS);
        // socket: AF_ALG and AF_VSOCK refused
        for (af, want) in [
            (1, ALLOW),
            (2, ALLOW),
            (10, ALLOW),
            (16, ALLOW),
            (38, EPERM),
            (39, ALLOW),
            (40, EPERM),
            (44, ALLOW),
        ] {
            assert_eq!(call(&p, "socket", [af, 0, 0, 0, 0, 0]), want, "af {af}");
        }
        // personality: Docker's values only
        for (v, want) in [
            (0, ALLOW),
            (8, ALLOW),
            (0x20000, ALLOW),
            (0x20008, ALLOW),
            (0xffff_ffff, ALLOW),
            (0x0040_0000, EPERM),
        ] {
            assert_eq!(call(&p, "personality", [v, 0, 0, 0, 0, 0]), want, "{v:#x}");
        }
        // other ABIs
        assert_eq!(run(&p, ARCH_X86_64, X32_BIT | nr("read"), [0; 6]), EPERM);
        assert_eq!(run(&p, 0x4000_0003, 3, [0; 6]), EPERM);
        // a number no syscall has
        assert_eq!(run(&p, ARCH_X86_64, 1000, [0; 6]), EPERM);
    }

    #[test]
    fn default_profile_with_caps() {
        use Capability::*;
        let p = default_prog(&[CAP_SYS_ADMIN, CAP_SYS_PTRACE, CAP_SYS_TIME]);
        for name in [
            "unshare",
            "setns",
            "mount",
            "bpf",
            "ptrace",
            "settimeofday",
            "clone3",
        ] {
            assert_eq!(call(&p, name, [0; 6]), ALLOW, "{name}");
        }
        assert_eq!(call(&p, "clone", [0x1000_0011, 0, 0, 0, 0, 0]), ALLOW);
        assert_eq!(call(&p, "chroot", [0; 6]), EPERM);
        assert_eq!(call(&p, "keyctl", [0; 6]), EPERM);
        assert_eq!(call(&p, "io_uring_setup", [0; 6]), EPERM);
    }

    #[test]
    fn min_kernel_and_allow_default() {
        let p = profile::parse(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
              {"names": ["mkdir", "mkdirat", "no_such_call"], "action": "SCMP_ACT_ERRNO"},
              {"names": ["getpid"], "action": "SCMP_ACT_KILL_PROCESS", "includes": {"minKernel": "99.0"}},
              {"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 5, "excludes": {"arches": ["amd64"]}},
              {"names": ["rmdir"], "action": "SCMP_ACT_ALLOW"}
            ]}"#,
        )
        .unwrap();
        let prog = bpf::generate(&resolve(&p, &CapsHashSet::new(), &mut || (6, 18)));
        assert_eq!(call(&prog, "mkdir", [0; 6]), EPERM);
        assert_eq!(call(&prog, "mkdirat", [0; 6]), EPERM);
        assert_eq!(call(&prog, "getpid", [0; 6]), ALLOW);
        assert_eq!(call(&prog, "getppid", [0; 6]), ALLOW);
        // allow by default: another ABI still cannot side-step the denials
        assert_eq!(run(&prog, 0x4000_0003, 39, [0; 6]), EPERM);
        assert_eq!(
            run(&prog, ARCH_X86_64, X32_BIT | nr("mkdir"), [0; 6]),
            EPERM
        );
    }

    #[test]
    fn choice_parses() {
        assert_eq!(parse_choice("default"), Ok(Choice::Default));
        assert_eq!(parse_choice("unconfined"), Ok(Choice::Unconfined));
        assert_eq!(
            parse_choice("./p.json"),
            Ok(Choice::File(PathBuf::from("./p.json")))
        );
        assert!(parse_choice("").is_err());
    }

    /// Run `f` in a forked child; its exit code (128+N when signal N killed it). `f` must
    /// make system calls only: no allocation, no lock (the test harness has threads).
    fn in_child(f: impl FnOnce() -> i32) -> i32 {
        // SAFETY: the child runs `f`, which only makes system calls, and leaves with _exit:
        // it touches no lock or allocator state another thread may have held at the fork.
        match unsafe { nix::unistd::fork() }.expect("fork") {
            nix::unistd::ForkResult::Child => crate::process::exit_now(f()),
            nix::unistd::ForkResult::Parent { child } => {
                match nix::sys::wait::waitpid(child, None).expect("waitpid") {
                    nix::sys::wait::WaitStatus::Exited(_, code) => code,
                    nix::sys::wait::WaitStatus::Signaled(_, sig, _) => 128 + sig as i32,
                    st => panic!("child: {st:?}"),
                }
            }
        }
    }

    /// Run `f` in a forked child with no_new_privs and `prog` loaded; its exit code.
    fn in_filtered_child(prog: &Program, f: fn() -> i32) -> i32 {
        in_child(|| {
            if nix::sys::prctl::set_no_new_privs().is_err() || load(prog).is_err() {
                return 100;
            }
            f()
        })
    }

    /// The raw result (-errno on failure) of system calls that have no wrapper: with all
    /// arguments zero they read and write no memory of ours.
    #[derive(Clone, Copy)]
    enum Raw {
        /// clone3(NULL, 0): EINVAL unfiltered (no args struct), ENOSYS under the default profile
        Clone3,
        /// getpid through the i386 ABI (`int 0x80`, number 20) from this 64-bit process
        GetpidI386,
    }

    fn raw(call: Raw) -> i64 {
        let ret: i64;
        // SAFETY: both calls, with all arguments zero, neither read nor write our memory nor
        // create a process or thread (clone3 refuses a zero-sized args struct); the asm
        // clobbers only the registers it declares.
        unsafe {
            match call {
                Raw::Clone3 => std::arch::asm!(
                    "syscall",
                    inlateout("rax") libc::SYS_clone3 => ret,
                    in("rdi") 0usize,
                    in("rsi") 0usize,
                    out("rcx") _,
                    out("r11") _,
                    options(nostack),
                ),
                Raw::GetpidI386 => {
                    std::arch::asm!("int 0x80", inlateout("rax") 20i64 => ret, options(nostack))
                }
            }
        }
        ret
    }

    /// errno of a rustix or nix result, 0 for success.
    fn err<T>(r: Result<T, impl Into<std::io::Error>>) -> i32 {
        r.err().and_then(|e| e.into().raw_os_error()).unwrap_or(0)
    }

    #[test]
    fn kernel_refuses_what_the_default_profile_denies() {
        let caps: CapsHashSet = crate::capset::DEFAULT.iter().copied().collect();
        let prog = compile(&Choice::Default, &caps).unwrap().unwrap();
        // unshare(CLONE_NEWUSER) is refused with EPERM; getpid works
        let code = in_filtered_child(&prog, || {
            let e = err(nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUSER));
            let pid = nix::unistd::getpid().as_raw();
            if e == libc::EPERM && pid > 0 { 0 } else { 1 }
        });
        assert_eq!(code, 0);
        // an argument condition: socket(AF_UNIX) works, socket(AF_VSOCK) is refused
        let code = in_filtered_child(&prog, || {
            use rustix::net::{AddressFamily, SocketType, socket};
            let unix = socket(AddressFamily::UNIX, SocketType::STREAM, None);
            let vsock = err(socket(
                AddressFamily::from_raw(40),
                SocketType::STREAM,
                None,
            ));
            let clone3 = raw(Raw::Clone3);
            if unix.is_ok() && vsock == libc::EPERM && clone3 == -i64::from(libc::ENOSYS) {
                0
            } else {
                1
            }
        });
        assert_eq!(code, 0);
    }

    #[test]
    fn kernel_refuses_the_i386_abi_under_a_filter() {
        // without a filter (and with ia32 emulation in the kernel) it works...
        let works = in_child(|| i32::from(raw(Raw::GetpidI386) <= 0)) == 0;
        if !works {
            eprintln!("no ia32 emulation in this kernel: nothing to check");
            return;
        }
        // ...under an allow-by-default profile it is refused, so it cannot side-step a denial
        let p = profile::parse(r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ERRNO"}]}"#).unwrap();
        let prog = Program {
            insns: bpf::generate(&resolve(&p, &CapsHashSet::new(), &mut || (6, 18))),
            flags: 0,
        };
        let code = in_filtered_child(&prog, || {
            // musl's getpid returns what the kernel does: -EPERM under the filter
            let native = nix::unistd::getpid().as_raw();
            if raw(Raw::GetpidI386) == -i64::from(libc::EPERM) && native == -libc::EPERM {
                0
            } else {
                1
            }
        });
        assert_eq!(code, 0);
    }

    #[test]
    fn kernel_applies_a_custom_profile() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("p.json");
        std::fs::write(
            &f,
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
                {"names": ["getppid"], "action": "SCMP_ACT_KILL_PROCESS"}]}"#,
        )
        .unwrap();
        let prog = compile(&Choice::File(f.clone()), &CapsHashSet::new())
            .unwrap()
            .unwrap();
        let code = in_filtered_child(&prog, || {
            let mode = rustix::fs::Mode::from_raw_mode(0o755);
            let e = err(rustix::fs::mkdirat(
                rustix::fs::CWD,
                "/nonexistent-dir/x",
                mode,
            ));
            let ok = nix::unistd::getpid().as_raw() > 0;
            if e == libc::EACCES && ok { 0 } else { 1 }
        });
        assert_eq!(code, 0);
        let code = in_filtered_child(&prog, || {
            // the filter kills us
            nix::unistd::getppid();
            0
        });
        assert_eq!(code, 128 + libc::SIGSYS);
        // errors name the file
        std::fs::write(&f, r#"{"defaultAction": "SCMP_ACT_BOGUS"}"#).unwrap();
        let e = compile(&Choice::File(f.clone()), &CapsHashSet::new()).unwrap_err();
        let line = e.to_string();
        assert!(
            line.contains(&f.display().to_string()) && line.contains("defaultAction"),
            "{line}"
        );
        assert!(
            compile(&Choice::Unconfined, &CapsHashSet::new())
                .unwrap()
                .is_none()
        );
    }
}
