//! `--tty`: the command gets a pseudo-terminal of its own, as `docker run -t` gives it.
//!
//! The pty pair is made where the command lives: in create mode by the container's setup
//! process after `pivot_root`, from the container's own devpts instance (`/dev/ptmx` ->
//! `pts/ptmx`), so the command sees `/dev/pts/0` and no node of the host's devpts (runc does
//! the same); in enter mode after the namespaces are joined, from the container's devpts. The
//! slave becomes the command's stdin, stdout, stderr and controlling terminal (a new
//! session, TIOCSCTTY) and, with `--rootfs`, the container's `/dev/console`. The master goes
//! to nsenter-rs's waiting parent (create mode: over a socket, SCM_RIGHTS), which relays it
//! to its own stdin and stdout: stdin in raw mode while it is a terminal, the window size
//! copied at the start and on every SIGWINCH, the forwarded signals passed on, and the
//! terminal's settings restored on every way out. The caller's terminal itself never
//! reaches the command.

use std::io::{IoSlice, IoSliceMut, Write};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{self, SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use rustix::termios::{self, OptionalActions, Termios, Winsize};

use crate::error::Error;
use crate::process;

/// A rustix result as our error, naming what failed.
fn sys<T>(r: rustix::io::Result<T>, what: impl FnOnce() -> String) -> Result<T, Error> {
    r.map_err(|e| Error::Sys {
        what: what(),
        source: Errno::from_raw(e.raw_os_error()),
    })
}

fn stdin() -> std::io::Stdin {
    std::io::stdin()
}

fn stdout() -> std::io::Stdout {
    std::io::stdout()
}

/// The size of the caller's terminal: stdin's, else stdout's (`-t` without `-i`).
pub fn caller_size() -> Option<Winsize> {
    termios::tcgetwinsize(stdin())
        .or_else(|_| termios::tcgetwinsize(stdout()))
        .ok()
}

/// A new pty pair from `/dev/ptmx` as this process sees it (inside the container: its own
/// devpts): the master, and the slave opened through the master (TIOCGPTPEER, no path), at
/// `size` when given. Both close on exec.
pub fn open_pair(size: Option<Winsize>) -> Result<(OwnedFd, OwnedFd), Error> {
    use rustix::pty::{OpenptFlags, ioctl_tiocgptpeer, openpt, unlockpt};
    let flags = OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC;
    let master = sys(openpt(flags), || "cannot open a pty (/dev/ptmx)".into())?;
    sys(unlockpt(&master), || "cannot unlock the pty".into())?;
    let slave = sys(ioctl_tiocgptpeer(&master, flags), || {
        "cannot open the pty's slave".into()
    })?;
    if let Some(ws) = size {
        sys(termios::tcsetwinsize(&master, ws), || {
            "cannot set the pty's window size".into()
        })?;
    }
    Ok((master, slave))
}

/// The slave's path in its devpts (`/dev/pts/N`), as the command sees it.
fn slave_path(master: &OwnedFd) -> Result<std::path::PathBuf, Error> {
    let name = sys(rustix::pty::ptsname(master, Vec::new()), || {
        "cannot name the pty's slave".into()
    })?;
    Ok(std::path::PathBuf::from(
        name.to_string_lossy().into_owned(),
    ))
}

/// A socket pair to pass the master from the container's setup process to the parent.
pub fn channel() -> Result<(OwnedFd, OwnedFd), Error> {
    use rustix::net::{AddressFamily, SocketFlags, SocketType, socketpair};
    sys(
        socketpair(
            AddressFamily::UNIX,
            SocketType::SEQPACKET,
            SocketFlags::CLOEXEC,
            None,
        ),
        || "cannot create a socket pair".into(),
    )
}

/// Create mode, in the container's setup process (after `pivot_root`): a pty of the
/// container's own, its slave bound on `/dev/console` (`console`: with `--rootfs`) and made
/// stdin, stdout and stderr; the master is sent to the parent over `chan`.
pub fn container_side(chan: OwnedFd, size: Option<Winsize>, console: bool) -> Result<(), Error> {
    use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags, sendmsg};
    let (master, slave) = open_pair(size)?;
    if console {
        bind_console(&slave_path(&master)?)?;
    }
    let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    let fds = [master.as_fd()];
    control.push(SendAncillaryMessage::ScmRights(&fds));
    sys(
        sendmsg(
            &chan,
            &[IoSlice::new(b"M")],
            &mut control,
            SendFlags::empty(),
        ),
        || "cannot pass the pty to nsenter-rs".into(),
    )?;
    drop(master);
    drop(chan);
    use_slave(slave)
}

/// The slave as stdin, stdout and stderr (its own descriptor is closed).
pub fn use_slave(slave: OwnedFd) -> Result<(), Error> {
    let fail = |source| Error::Sys {
        what: "cannot make the pty the command's stdin, stdout and stderr".into(),
        source,
    };
    nix::unistd::dup2_stdin(&slave).map_err(fail)?;
    nix::unistd::dup2_stdout(&slave).map_err(fail)?;
    nix::unistd::dup2_stderr(&slave).map_err(fail)?;
    Ok(())
}

/// `/dev/console` in the container (after `pivot_root`: "/" is the rootfs, /dev our tmpfs):
/// an empty file with the slave bound on it. Only the container's own pty is ever its console.
fn bind_console(slave: &std::path::Path) -> Result<(), Error> {
    use nix::fcntl::{OFlag, open};
    use nix::mount::{MsFlags, mount};
    use nix::sys::stat::Mode;
    let console = std::path::Path::new("/dev/console");
    let f = open(
        console,
        OFlag::O_CREAT | OFlag::O_NOFOLLOW | OFlag::O_WRONLY | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o600),
    )
    .map_err(|source| Error::Sys {
        what: "cannot create /dev/console".into(),
        source,
    })?;
    drop(f);
    mount(
        Some(slave),
        console,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(|source| Error::Sys {
        what: format!("cannot bind {} on /dev/console", slave.display()),
        source,
    })
}

/// In the process that execs the command, with the slave on stdin: make it the controlling
/// terminal of this session (`new_session`: start one first; a session leader has one).
pub fn take_controlling(new_session: bool) -> Result<(), Error> {
    if new_session {
        process::new_session()?;
    }
    sys(rustix::process::ioctl_tiocsctty(stdin()), || {
        "cannot make the pty the controlling terminal".into()
    })
}

/// The parent (create mode): the master the container's setup process sent, or `None` when
/// it ended (or exec'd) without sending one (it failed; its status tells).
pub fn receive_master(chan: &OwnedFd) -> Result<Option<OwnedFd>, Error> {
    use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, recvmsg};
    let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let mut byte = [0u8; 1];
    loop {
        match recvmsg(
            chan,
            &mut [IoSliceMut::new(&mut byte)],
            &mut control,
            RecvFlags::CMSG_CLOEXEC,
        ) {
            Ok(_) => break,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => {
                return sys(Err(e), || "cannot receive the pty".into());
            }
        }
    }
    let mut got = None;
    for m in control.drain() {
        if let RecvAncillaryMessage::ScmRights(fds) = m {
            for fd in fds {
                got.get_or_insert(fd);
            }
        }
    }
    Ok(got)
}

/// The caller's terminal settings, put back when dropped (every way out of the relay).
struct RawMode(Option<Termios>);

impl RawMode {
    /// stdin in raw mode, when it is a terminal.
    fn enter() -> RawMode {
        let Ok(saved) = termios::tcgetattr(stdin()) else {
            return RawMode(None);
        };
        let mut raw = saved.clone();
        raw.make_raw();
        match termios::tcsetattr(stdin(), OptionalActions::Now, &raw) {
            Ok(()) => RawMode(Some(saved)),
            Err(_) => RawMode(None),
        }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(t) = self.0.take() {
            let _ = termios::tcsetattr(stdin(), OptionalActions::Now, &t);
        }
    }
}

/// Copy the caller's window size to the pty.
fn copy_size(master: &OwnedFd) {
    if let Some(ws) = caller_size() {
        let _ = termios::tcsetwinsize(master, ws);
    }
}

/// Write all of `buf` to stdout; false once stdout is gone.
fn to_stdout(buf: &[u8]) -> bool {
    let mut out = std::io::stdout().lock();
    out.write_all(buf).and_then(|()| out.flush()).is_ok()
}

/// The parent: relay between the master and our stdin/stdout until `child` exits, and
/// return its status in the shell's convention. The forwarded signals and SIGCHLD must be
/// blocked ([`process::block_signals`]) since before `child` was started.
pub fn relay(master: OwnedFd, child: Pid) -> i32 {
    let mut mask = process::wait_set();
    mask.add(Signal::SIGWINCH);
    let _ = signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&mask), None);
    let sfd = match SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK) {
        Ok(s) => s,
        // no relay without the signal descriptor: the output still reaches the pty's reader
        Err(_) => return process::wait_forwarding(child, false),
    };
    let _ = rustix::io::ioctl_fionbio(&master, true);
    let _raw = RawMode::enter();
    copy_size(&master);

    let mut status: Option<i32> = None;
    let mut stdin_open = true;
    let mut master_open = true;
    let mut stdout_open = true;
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    let input = stdin();
    while status.is_none() {
        let mut fds = vec![PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
        let mi = master_open.then(|| {
            let mut ev = PollFlags::POLLIN;
            if !pending.is_empty() {
                ev |= PollFlags::POLLOUT;
            }
            fds.push(PollFd::new(master.as_fd(), ev));
            fds.len() - 1
        });
        let si = (stdin_open && master_open && pending.len() < 64 * 1024).then(|| {
            fds.push(PollFd::new(input.as_fd(), PollFlags::POLLIN));
            fds.len() - 1
        });
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => {}
            Err(Errno::EINTR) => continue,
            Err(_) => break,
        }
        let ready = |i: usize| fds[i].revents().unwrap_or(PollFlags::empty());
        let sig_ready = !ready(0).is_empty();
        let master_ev = mi.map(ready).unwrap_or(PollFlags::empty());
        let stdin_ev = si.map(ready).unwrap_or(PollFlags::empty());
        drop(fds);

        if sig_ready {
            while let Ok(Some(info)) = sfd.read_signal() {
                match Signal::try_from(info.ssi_signo as i32) {
                    Ok(Signal::SIGCHLD) => {}
                    Ok(Signal::SIGWINCH) => copy_size(&master),
                    Ok(s) => {
                        let _ = signal::kill(child, s);
                    }
                    Err(_) => {}
                }
            }
            match waitpid(child, Some(WaitPidFlag::WNOHANG)) {
                Ok(st @ (WaitStatus::Exited(..) | WaitStatus::Signaled(..))) => {
                    status = Some(common::exit::from_wait_status(st));
                }
                Ok(_) | Err(Errno::EINTR) => {}
                Err(_) => status = Some(common::exit::FAILURE),
            }
        }
        if master_ev.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR) {
            match nix::unistd::read(&master, &mut buf) {
                Ok(0) | Err(Errno::EIO) => master_open = false,
                Ok(n) => stdout_open = stdout_open && to_stdout(&buf[..n]),
                Err(Errno::EAGAIN | Errno::EINTR) => {}
                Err(_) => master_open = false,
            }
        }
        if master_open && master_ev.contains(PollFlags::POLLOUT) && !pending.is_empty() {
            match nix::unistd::write(&master, &pending) {
                Ok(n) => {
                    pending.drain(..n);
                }
                Err(Errno::EAGAIN | Errno::EINTR) => {}
                Err(_) => pending.clear(),
            }
        }
        if stdin_ev.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR) {
            // at the end of stdin (or /dev/null: -t without -i) only the output is relayed
            match nix::unistd::read(&input, &mut buf) {
                Ok(0) => stdin_open = false,
                Ok(n) => pending.extend_from_slice(&buf[..n]),
                Err(Errno::EAGAIN | Errno::EINTR) => {}
                Err(_) => stdin_open = false,
            }
        }
    }
    // the command is gone: what it (or anything still holding the pty) wrote so far
    while master_open {
        match nix::unistd::read(&master, &mut buf) {
            Ok(n) if n > 0 => stdout_open = stdout_open && to_stdout(&buf[..n]),
            _ => master_open = false,
        }
    }
    let _ = stdout_open;
    match status {
        Some(s) => s,
        None => process::wait_forwarding(child, false),
    }
}

// ------------------------------------------------------------------ a held terminal, attached

// `--tty-socket PATH` (a detached container's terminal, `ctr-run -dt`): the parent holds the
// master, writes the output to its stdout (the container's log) and serves one attached
// client at a time on a unix seqpacket socket. Each message starts with its kind:
// client -> us: b'd' + input bytes, b'w' + rows and columns (u16 little-endian);
// us -> client: b'o' + output bytes, b'x' + the exit status (i32 little-endian), then EOF.

const MSG_DATA: u8 = b'd';
const MSG_SIZE: u8 = b'w';
const MSG_OUT: u8 = b'o';
const MSG_EXIT: u8 = b'x';

/// The listening socket at `path` (mode 0600: the state folder's owner only).
pub fn listen(path: &std::path::Path) -> Result<OwnedFd, Error> {
    use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType};
    let what = || format!("cannot listen on terminal socket {}", path.display());
    let addr = sys(SocketAddrUnix::new(path), what)?;
    let sock = sys(
        rustix::net::socket_with(
            AddressFamily::UNIX,
            SocketType::SEQPACKET,
            SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
            None,
        ),
        what,
    )?;
    // made 0600 (no moment at which another user could connect first)
    let old = rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o177));
    let bound = rustix::net::bind(&sock, &addr);
    rustix::process::umask(old);
    sys(bound, what)?;
    sys(rustix::net::listen(&sock, 4), what)?;
    Ok(sock)
}

/// Send one message of `kind` to the client without waiting; false once it is gone (a
/// client too slow to take the output loses it, the log keeps it).
fn send_msg(client: &OwnedFd, kind: u8, data: &[u8]) -> bool {
    use rustix::net::{SendFlags, send};
    let mut msg = Vec::with_capacity(data.len() + 1);
    msg.push(kind);
    msg.extend_from_slice(data);
    match send(client, &msg, SendFlags::DONTWAIT | SendFlags::NOSIGNAL) {
        Ok(_) | Err(rustix::io::Errno::AGAIN) => true,
        Err(_) => false,
    }
}

/// The parent with `--tty-socket`: relay the master to our stdout and to the attached
/// client until `child` exits; remove the socket; return the child's status.
pub fn hold(master: OwnedFd, child: Pid, listener: OwnedFd, path: &std::path::Path) -> i32 {
    use rustix::net::{RecvFlags, SocketFlags, accept_with, recv};
    let mask = process::wait_set();
    let sfd = match SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK) {
        Ok(s) => s,
        Err(_) => {
            let _ = std::fs::remove_file(path);
            return process::wait_forwarding(child, false);
        }
    };
    let _ = rustix::io::ioctl_fionbio(&master, true);
    let mut client: Option<OwnedFd> = None;
    let mut status: Option<i32> = None;
    let mut master_open = true;
    let mut stdout_open = true;
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    // (a client's message: at most 16 KiB of input and its kind)
    let mut cbuf = vec![0u8; 64 * 1024];
    while status.is_none() {
        let mut fds = vec![
            PollFd::new(sfd.as_fd(), PollFlags::POLLIN),
            PollFd::new(listener.as_fd(), PollFlags::POLLIN),
        ];
        let mi = master_open.then(|| {
            let mut ev = PollFlags::POLLIN;
            if !pending.is_empty() {
                ev |= PollFlags::POLLOUT;
            }
            fds.push(PollFd::new(master.as_fd(), ev));
            fds.len() - 1
        });
        let ci = client
            .as_ref()
            .filter(|_| pending.len() < 64 * 1024)
            .map(|c| {
                fds.push(PollFd::new(c.as_fd(), PollFlags::POLLIN));
                fds.len() - 1
            });
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => {}
            Err(Errno::EINTR) => continue,
            Err(_) => break,
        }
        let ready = |i: usize| fds[i].revents().unwrap_or(PollFlags::empty());
        let sig_ready = !ready(0).is_empty();
        let new_client = !ready(1).is_empty();
        let master_ev = mi.map(ready).unwrap_or(PollFlags::empty());
        let client_ev = ci.map(ready).unwrap_or(PollFlags::empty());
        drop(fds);

        if sig_ready {
            while let Ok(Some(info)) = sfd.read_signal() {
                match Signal::try_from(info.ssi_signo as i32) {
                    Ok(Signal::SIGCHLD) | Err(_) => {}
                    Ok(s) => {
                        let _ = signal::kill(child, s);
                    }
                }
            }
            match waitpid(child, Some(WaitPidFlag::WNOHANG)) {
                Ok(st @ (WaitStatus::Exited(..) | WaitStatus::Signaled(..))) => {
                    status = Some(common::exit::from_wait_status(st));
                }
                Ok(_) | Err(Errno::EINTR) => {}
                Err(_) => status = Some(common::exit::FAILURE),
            }
        }
        if new_client {
            // the newest client is the attached one
            if let Ok(c) = accept_with(&listener, SocketFlags::CLOEXEC) {
                client = Some(c);
            }
        }
        if master_ev.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR) {
            match nix::unistd::read(&master, &mut buf) {
                Ok(0) | Err(Errno::EIO) => master_open = false,
                Ok(n) => {
                    stdout_open = stdout_open && to_stdout(&buf[..n]);
                    if client
                        .as_ref()
                        .is_some_and(|c| !send_msg(c, MSG_OUT, &buf[..n]))
                    {
                        client = None;
                    }
                }
                Err(Errno::EAGAIN | Errno::EINTR) => {}
                Err(_) => master_open = false,
            }
        }
        if master_open && master_ev.contains(PollFlags::POLLOUT) && !pending.is_empty() {
            match nix::unistd::write(&master, &pending) {
                Ok(n) => {
                    pending.drain(..n);
                }
                Err(Errno::EAGAIN | Errno::EINTR) => {}
                Err(_) => pending.clear(),
            }
        }
        if !client_ev.is_empty() {
            let got = client
                .as_ref()
                .map(|c| recv(c, &mut cbuf[..], RecvFlags::DONTWAIT));
            match got {
                Some(Ok((n, _))) if n > 0 => match cbuf[0] {
                    MSG_DATA => pending.extend_from_slice(&cbuf[1..n]),
                    MSG_SIZE if n >= 5 => {
                        let rows = u16::from_le_bytes([cbuf[1], cbuf[2]]);
                        let cols = u16::from_le_bytes([cbuf[3], cbuf[4]]);
                        let ws = Winsize {
                            ws_row: rows,
                            ws_col: cols,
                            ws_xpixel: 0,
                            ws_ypixel: 0,
                        };
                        let _ = termios::tcsetwinsize(&master, ws);
                    }
                    _ => {}
                },
                Some(Err(rustix::io::Errno::AGAIN | rustix::io::Errno::INTR)) => {}
                // (EOF or an error: the client detached or is gone)
                _ => client = None,
            }
        }
    }
    while master_open {
        match nix::unistd::read(&master, &mut buf) {
            Ok(n) if n > 0 => {
                stdout_open = stdout_open && to_stdout(&buf[..n]);
                if let Some(c) = &client {
                    send_msg(c, MSG_OUT, &buf[..n]);
                }
            }
            _ => master_open = false,
        }
    }
    let _ = stdout_open;
    let _ = std::fs::remove_file(path);
    let code = match status {
        Some(s) => s,
        None => process::wait_forwarding(child, false),
    };
    if let Some(c) = &client {
        send_msg(c, MSG_EXIT, &code.to_le_bytes());
    }
    code
}

/// `--attach PATH`: attach this terminal to a container's held terminal (`--tty-socket`):
/// stdin in raw mode while it is a terminal, our window size passed on, until the container
/// ends (its status is ours) or ctrl-p ctrl-q detaches (0).
pub fn attach(path: &std::path::Path) -> Result<i32, Error> {
    use rustix::net::{AddressFamily, RecvFlags, SocketAddrUnix, SocketFlags, SocketType};
    let what = || format!("cannot attach to terminal socket {}", path.display());
    let addr = sys(SocketAddrUnix::new(path), what)?;
    let sock = sys(
        rustix::net::socket_with(
            AddressFamily::UNIX,
            SocketType::SEQPACKET,
            SocketFlags::CLOEXEC,
            None,
        ),
        what,
    )?;
    sys(rustix::net::connect(&sock, &addr), what)?;
    let send_size = |sock: &OwnedFd| {
        if let Some(ws) = caller_size() {
            let mut m = [0u8; 4];
            m[..2].copy_from_slice(&ws.ws_row.to_le_bytes());
            m[2..].copy_from_slice(&ws.ws_col.to_le_bytes());
            send_msg(sock, MSG_SIZE, &m);
        }
    };
    let mut mask = SigSet::empty();
    for s in [
        Signal::SIGWINCH,
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
    ] {
        mask.add(s);
    }
    let _ = signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&mask), None);
    let sfd = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK).map_err(
        |source| Error::Sys {
            what: "cannot create a signal descriptor".into(),
            source,
        },
    )?;
    let raw = RawMode::enter();
    send_size(&sock);
    let input = stdin();
    let mut stdin_open = true;
    // a ctrl-p held back until the next key says whether it starts the detach keys
    let mut held_ctrl_p = false;
    // (16 KiB of input and its kind; the holder's messages are as large)
    let mut buf = vec![0u8; 16 * 1024 + 1];
    let code = loop {
        let mut fds = vec![
            PollFd::new(sfd.as_fd(), PollFlags::POLLIN),
            PollFd::new(sock.as_fd(), PollFlags::POLLIN),
        ];
        if stdin_open {
            fds.push(PollFd::new(input.as_fd(), PollFlags::POLLIN));
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => {}
            Err(Errno::EINTR) => continue,
            Err(_) => break common::exit::FAILURE,
        }
        let ready = |i: usize| fds[i].revents().unwrap_or(PollFlags::empty());
        let (sig_ev, sock_ev) = (ready(0), ready(1));
        let stdin_ev = if stdin_open {
            ready(2)
        } else {
            PollFlags::empty()
        };
        drop(fds);
        if !sig_ev.is_empty() {
            let mut leave = false;
            while let Ok(Some(info)) = sfd.read_signal() {
                match Signal::try_from(info.ssi_signo as i32) {
                    Ok(Signal::SIGWINCH) => send_size(&sock),
                    _ => leave = true,
                }
            }
            if leave {
                // a signal to us detaches; the container goes on
                break common::exit::OK;
            }
        }
        if !sock_ev.is_empty() {
            match rustix::net::recv(&sock, &mut buf[..], RecvFlags::empty()) {
                Ok((n, _)) if n > 0 => match buf[0] {
                    // (our stdout is gone: nothing to attach to any more)
                    MSG_OUT if !to_stdout(&buf[1..n]) => break common::exit::OK,
                    MSG_EXIT if n >= 5 => {
                        break i32::from_le_bytes([buf[1], buf[2], buf[3], buf[4]]);
                    }
                    _ => {}
                },
                Ok(_) => break common::exit::OK,
                Err(rustix::io::Errno::INTR | rustix::io::Errno::AGAIN) => {}
                Err(_) => break common::exit::OK,
            }
        }
        if !stdin_ev.is_empty() {
            match nix::unistd::read(&input, &mut buf[1..]) {
                Ok(0) | Err(Errno::EIO) => stdin_open = false,
                Ok(n) => {
                    let mut out = vec![MSG_DATA];
                    let mut detach = false;
                    for &b in &buf[1..=n] {
                        if held_ctrl_p {
                            held_ctrl_p = false;
                            if b == 0x11 {
                                detach = true;
                                break;
                            }
                            out.push(0x10);
                        }
                        if b == 0x10 {
                            held_ctrl_p = true;
                        } else {
                            out.push(b);
                        }
                    }
                    if out.len() > 1 {
                        // (waiting: input is never dropped)
                        let _ = rustix::net::send(&sock, &out, rustix::net::SendFlags::NOSIGNAL);
                    }
                    if detach {
                        drop(raw);
                        eprintln!("read escape sequence");
                        return Ok(common::exit::OK);
                    }
                }
                Err(_) => stdin_open = false,
            }
        }
    };
    drop(raw);
    Ok(code)
}
