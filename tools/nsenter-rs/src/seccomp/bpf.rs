//! The classic-BPF generator.
//!
//! Layout: check `seccomp_data.arch` (x86_64, else the foreign action), load the syscall
//! number, then a balanced binary search (`jge`) over the boundaries of the number ranges
//! that share one outcome: x32 numbers (bit 0x40000000) form the last range and get the
//! foreign action; numbers nobody named get the default action. A syscall whose rules have
//! argument conditions gets a chain of 64-bit compares, each over the two 32-bit halves.
//!
//! The program is emitted back to front, so every jump offset is known when the jump is
//! written; a target beyond the 255 instructions a conditional jump reaches gets a fresh
//! `ret` or an unconditional `ja` next to it.

use super::profile::{Arg, Op};

const LD_W_ABS: u16 = 0x20;
const JMP_JA: u16 = 0x05;
const JMP_JEQ_K: u16 = 0x15;
const JMP_JGT_K: u16 = 0x25;
const JMP_JGE_K: u16 = 0x35;
const ALU_AND_K: u16 = 0x54;
const RET_K: u16 = 0x06;

/// AUDIT_ARCH_X86_64
pub const ARCH_X86_64: u32 = 0xC000_003E;
/// Syscall numbers of the x32 ABI carry this bit.
pub const X32_BIT: u32 = 0x4000_0000;
/// The kernel's limit on a filter's length (BPF_MAXINSNS).
pub const MAX_INSNS: usize = 4096;

const OFF_NR: u32 = 0;
const OFF_ARCH: u32 = 4;
const OFF_ARGS: u32 = 16;

/// What one syscall number leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// a SECCOMP_RET_* value
    Ret(u32),
    /// rules tried in order (all conditions of one must hold), then the fallback value
    Chain {
        rules: Vec<(Vec<Arg>, u32)>,
        fallback: u32,
    },
}

/// The filter's input: the outcome of each named syscall number, sorted by number (others
/// get `default`).
#[derive(Debug, Clone)]
pub struct Plan {
    pub syscalls: Vec<(u32, Outcome)>,
    pub default: u32,
    /// for other architectures (i386 via int 0x80) and the x32 ABI
    pub foreign: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tgt {
    Ret(u32),
    /// an instruction, by its index counted from the end of the program
    At(usize),
}

struct Emitter {
    /// the program, last instruction first
    rev: Vec<libc::sock_filter>,
    /// where a `ret` of each value was last placed
    rets: Vec<(u32, usize)>,
}

impl Emitter {
    fn push(&mut self, code: u16, jt: u8, jf: u8, k: u32) -> usize {
        self.rev.push(libc::sock_filter { code, jt, jf, k });
        self.rev.len() - 1
    }

    /// Distance from an instruction about to be pushed to `at`.
    fn dist(&self, at: usize) -> usize {
        self.rev.len() - at - 1
    }

    fn stmt(&mut self, code: u16, k: u32) -> Tgt {
        Tgt::At(self.push(code, 0, 0, k))
    }

    /// An instruction index for `t`, reusing a `ret` while it is in reach.
    fn place(&mut self, t: Tgt) -> usize {
        match t {
            Tgt::At(i) => i,
            Tgt::Ret(v) => match self.rets.iter().position(|(r, _)| *r == v) {
                Some(n) if self.dist(self.rets[n].1) <= 200 => self.rets[n].1,
                found => {
                    let i = self.push(RET_K, 0, 0, v);
                    match found {
                        Some(n) => self.rets[n].1 = i,
                        None => self.rets.push((v, i)),
                    }
                    i
                }
            },
        }
    }

    /// `if (A op k) goto t else goto f`.
    fn jump(&mut self, code: u16, k: u32, t: Tgt, f: Tgt) -> Tgt {
        let mut t = self.place(t);
        let mut f = self.place(f);
        loop {
            if self.dist(t) > 255 {
                let d = self.dist(t) as u32;
                t = self.push(JMP_JA, 0, 0, d);
                continue;
            }
            if self.dist(f) > 255 {
                let d = self.dist(f) as u32;
                f = self.push(JMP_JA, 0, 0, d);
                continue;
            }
            break;
        }
        let (jt, jf) = (self.dist(t) as u8, self.dist(f) as u8);
        Tgt::At(self.push(code, jt, jf, k))
    }

    /// Code that goes to `pass` when the argument condition holds, else to `fail`.
    fn cond(&mut self, a: &Arg, pass: Tgt, fail: Tgt) -> Tgt {
        let lo_off = OFF_ARGS + 8 * u32::from(a.index);
        let hi_off = lo_off + 4;
        let (vlo, vhi) = (a.value as u32, (a.value >> 32) as u32);
        match a.op {
            Op::Eq | Op::Ne => {
                let (p, f) = if a.op == Op::Eq {
                    (pass, fail)
                } else {
                    (fail, pass)
                };
                self.jump(JMP_JEQ_K, vlo, p, f);
                let lo = self.stmt(LD_W_ABS, lo_off);
                self.jump(JMP_JEQ_K, vhi, lo, f);
                self.stmt(LD_W_ABS, hi_off)
            }
            Op::Gt | Op::Ge => {
                let code = if a.op == Op::Gt { JMP_JGT_K } else { JMP_JGE_K };
                self.jump(code, vlo, pass, fail);
                let lo = self.stmt(LD_W_ABS, lo_off);
                let eq = self.jump(JMP_JEQ_K, vhi, lo, fail);
                self.jump(JMP_JGT_K, vhi, pass, eq);
                self.stmt(LD_W_ABS, hi_off)
            }
            Op::Lt | Op::Le => {
                let code = if a.op == Op::Lt { JMP_JGE_K } else { JMP_JGT_K };
                self.jump(code, vlo, fail, pass);
                let lo = self.stmt(LD_W_ABS, lo_off);
                let eq = self.jump(JMP_JEQ_K, vhi, lo, pass);
                self.jump(JMP_JGT_K, vhi, fail, eq);
                self.stmt(LD_W_ABS, hi_off)
            }
            Op::MaskedEq => {
                let (mlo, mhi) = (a.value as u32, (a.value >> 32) as u32);
                let (wlo, whi) = (a.value_two as u32, (a.value_two >> 32) as u32);
                self.jump(JMP_JEQ_K, wlo, pass, fail);
                self.stmt(ALU_AND_K, mlo);
                let lo = self.stmt(LD_W_ABS, lo_off);
                if mhi == 0 && whi == 0 {
                    // the high half always matches
                    return lo;
                }
                self.jump(JMP_JEQ_K, whi, lo, fail);
                self.stmt(ALU_AND_K, mhi);
                self.stmt(LD_W_ABS, hi_off)
            }
        }
    }

    fn outcome(&mut self, o: &Outcome) -> Tgt {
        match o {
            Outcome::Ret(v) => Tgt::Ret(*v),
            Outcome::Chain { rules, fallback } => {
                let mut next = Tgt::Ret(*fallback);
                for (args, ret) in rules.iter().rev() {
                    let mut pass = Tgt::Ret(*ret);
                    for a in args.iter().rev() {
                        pass = self.cond(a, pass, next);
                    }
                    next = pass;
                }
                next
            }
        }
    }

    /// Binary search over ranges `(first number, outcome)`, sorted, the first from 0.
    fn tree(&mut self, ranges: &[(u32, &Outcome)]) -> Tgt {
        if let [(_, o)] = ranges {
            return self.outcome(o);
        }
        let mid = ranges.len() / 2;
        let hi = self.tree(&ranges[mid..]);
        let lo = self.tree(&ranges[..mid]);
        self.jump(JMP_JGE_K, ranges[mid].0, hi, lo)
    }
}

/// The number ranges with one outcome each: `(first number, outcome)` from 0 up.
fn ranges<'a>(
    plan: &'a Plan,
    default: &'a Outcome,
    foreign: &'a Outcome,
) -> Vec<(u32, &'a Outcome)> {
    let mut out: Vec<(u32, &Outcome)> = vec![(0, default)];
    let mut add = |start: u32, o: &'a Outcome| {
        let last = out.last_mut().expect("never empty");
        if last.0 == start {
            last.1 = o;
        } else if last.1 != o || matches!(o, Outcome::Chain { .. }) {
            out.push((start, o));
        }
    };
    // plan.syscalls is sorted by number
    for (nr, o) in plan.syscalls.iter().filter(|(nr, _)| *nr < X32_BIT) {
        add(*nr, o);
        add(nr + 1, default);
    }
    add(X32_BIT, foreign);
    // merge neighbours that ended up equal
    out.dedup_by(|b, a| a.1 == b.1 && !matches!(a.1, Outcome::Chain { .. }));
    out
}

/// The program.
pub fn generate(plan: &Plan) -> Vec<libc::sock_filter> {
    let (default, foreign) = (Outcome::Ret(plan.default), Outcome::Ret(plan.foreign));
    let refs = ranges(plan, &default, &foreign);
    let mut e = Emitter {
        rev: Vec::with_capacity(128),
        rets: Vec::new(),
    };
    let search = e.tree(&refs);
    // the search starts with the number in A
    let search = e.place(search);
    let dist = e.dist(search);
    if dist > 0 {
        e.push(JMP_JA, 0, 0, dist as u32);
    }
    let nr = e.stmt(LD_W_ABS, OFF_NR);
    e.jump(JMP_JEQ_K, ARCH_X86_64, nr, Tgt::Ret(plan.foreign));
    e.stmt(LD_W_ABS, OFF_ARCH);
    e.rev.reverse();
    e.rev
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// Run a program on (arch, nr, args) as the kernel would; panics on a bad program.
    pub fn run(prog: &[libc::sock_filter], arch: u32, nr: u32, args: [u64; 6]) -> u32 {
        exec(prog, arch, nr, args).0
    }

    /// How many instructions a run takes.
    pub fn steps(prog: &[libc::sock_filter], arch: u32, nr: u32, args: [u64; 6]) -> usize {
        exec(prog, arch, nr, args).1
    }

    fn exec(prog: &[libc::sock_filter], arch: u32, nr: u32, args: [u64; 6]) -> (u32, usize) {
        let word = |off: u32| -> u32 {
            match off {
                0 => nr,
                4 => arch,
                o if (16..64).contains(&o) => {
                    let i = ((o - 16) / 8) as usize;
                    if (o - 16) % 8 == 0 {
                        args[i] as u32
                    } else {
                        (args[i] >> 32) as u32
                    }
                }
                o => panic!("load of offset {o}"),
            }
        };
        let (mut pc, mut a, mut n) = (0usize, 0u32, 0usize);
        loop {
            let i = prog[pc];
            pc += 1;
            n += 1;
            match i.code {
                LD_W_ABS => a = word(i.k),
                ALU_AND_K => a &= i.k,
                RET_K => return (i.k, n),
                JMP_JA => pc += i.k as usize,
                JMP_JEQ_K | JMP_JGT_K | JMP_JGE_K => {
                    let taken = match i.code {
                        JMP_JEQ_K => a == i.k,
                        JMP_JGT_K => a > i.k,
                        _ => a >= i.k,
                    };
                    pc += usize::from(if taken { i.jt } else { i.jf });
                }
                c => panic!("unknown opcode {c:#x}"),
            }
        }
    }

    fn arg(op: Op, value: u64, value_two: u64) -> Arg {
        Arg {
            index: 1,
            value,
            value_two,
            op,
        }
    }

    #[test]
    fn compares_are_64_bit() {
        let big = 0x1_0000_0005u64;
        for (op, v, v2, yes, no) in [
            (Op::Eq, big, 0, vec![big], vec![5, big + 1, 0x2_0000_0005]),
            (Op::Ne, big, 0, vec![5, 0], vec![big]),
            (
                Op::Gt,
                big,
                0,
                vec![big + 1, 0x2_0000_0000],
                vec![big, 6, 0xffff_ffff],
            ),
            (
                Op::Ge,
                big,
                0,
                vec![big, 0x2_0000_0000],
                vec![big - 1, 0xffff_ffff],
            ),
            (
                Op::Lt,
                big,
                0,
                vec![big - 1, 0xffff_ffff, 7],
                vec![big, big + 1, 0x2_0000_0000],
            ),
            (Op::Le, big, 0, vec![big, 3], vec![big + 1, 0x2_0000_0000]),
            (
                Op::MaskedEq,
                0xff00_0000_00ff,
                0x1200_0000_0034,
                vec![0x12ab_0000_ff34],
                vec![0x1200_0000_0035, 0x34],
            ),
            (
                Op::MaskedEq,
                0x7E02_0000,
                0,
                vec![0x11, 0x1_0000_0011],
                vec![0x1000_0000, 0x2_0000],
            ),
        ] {
            let plan = Plan {
                syscalls: vec![(
                    7,
                    Outcome::Chain {
                        rules: vec![(vec![arg(op, v, v2)], 111)],
                        fallback: 222,
                    },
                )],
                default: 333,
                foreign: 444,
            };
            let prog = generate(&plan);
            for x in yes {
                assert_eq!(
                    run(&prog, ARCH_X86_64, 7, [0, x, 0, 0, 0, 0]),
                    111,
                    "{op:?} {x:#x}"
                );
            }
            for x in no {
                assert_eq!(
                    run(&prog, ARCH_X86_64, 7, [0, x, 0, 0, 0, 0]),
                    222,
                    "{op:?} {x:#x}"
                );
            }
            assert_eq!(run(&prog, ARCH_X86_64, 8, [0; 6]), 333);
        }
    }

    #[test]
    fn search_is_balanced_and_exact() {
        // every third number allowed, up to 460: many ranges
        let syscalls: Vec<(u32, Outcome)> =
            (0..460).step_by(3).map(|n| (n, Outcome::Ret(1))).collect();
        let plan = Plan {
            syscalls,
            default: 2,
            foreign: 3,
        };
        let prog = generate(&plan);
        for nr in 0..500 {
            let want = if nr < 460 && nr % 3 == 0 { 1 } else { 2 };
            assert_eq!(run(&prog, ARCH_X86_64, nr, [0; 6]), want, "nr {nr}");
        }
        assert_eq!(run(&prog, ARCH_X86_64, X32_BIT, [0; 6]), 3);
        assert_eq!(run(&prog, ARCH_X86_64, X32_BIT + 3, [0; 6]), 3);
        assert_eq!(run(&prog, ARCH_X86_64, u32::MAX, [0; 6]), 3);
        assert_eq!(run(&prog, 0x4000_0003, 0, [0; 6]), 3);
        // ~307 ranges: a search of depth 9, not a chain of 154 compares
        let jges = prog.iter().filter(|i| i.code == JMP_JGE_K).count();
        assert!(jges < 320, "{jges} compares");
        assert!(prog.len() < 700, "{} instructions", prog.len());
    }

    #[test]
    fn long_chains_get_trampolines() {
        // 300 conditional rules on one syscall: jumps over 255 instructions
        let rules: Vec<(Vec<Arg>, u32)> = (0..300u64)
            .map(|i| (vec![arg(Op::Eq, i * 7, 0)], 1000 + i as u32))
            .collect();
        let plan = Plan {
            syscalls: vec![(42, Outcome::Chain { rules, fallback: 5 })],
            default: 6,
            foreign: 7,
        };
        let prog = generate(&plan);
        assert!(prog.len() > 600);
        for i in [0u64, 1, 150, 299] {
            assert_eq!(
                run(&prog, ARCH_X86_64, 42, [0, i * 7, 0, 0, 0, 0]),
                1000 + i as u32
            );
        }
        assert_eq!(run(&prog, ARCH_X86_64, 42, [0, 3, 0, 0, 0, 0]), 5);
        assert_eq!(run(&prog, ARCH_X86_64, 41, [0; 6]), 6);
        assert_eq!(run(&prog, 0, 42, [0; 6]), 7);
    }
}
