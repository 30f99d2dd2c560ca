//! Classic BPF programs as data: the opcodes the capture filters use, an
//! instruction type of our own, and a small interpreter so that every filter
//! a probe module builds is tested on literal frames without a kernel.
//! `net::sys` hands the instructions to the kernel.

/// One classic BPF instruction (the layout of `struct sock_filter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

/// Build one instruction.
pub const fn insn(code: u16, jt: u8, jf: u8, k: u32) -> Insn {
    Insn { code, jt, jf, k }
}

// Opcodes (linux/bpf_common.h).
pub const LD_H_ABS: u16 = 0x28;
pub const LD_W_ABS: u16 = 0x20;
pub const LD_B_ABS: u16 = 0x30;
pub const LDX_B_MSH: u16 = 0xb1;
pub const LD_H_IND: u16 = 0x48;
/// `ldb [x + k]`
pub const LD_B_IND: u16 = 0x50;
pub const JEQ_K: u16 = 0x15;
pub const JGE_K: u16 = 0x35;
pub const JGT_K: u16 = 0x25;
pub const JSET_K: u16 = 0x45;
pub const RET_K: u16 = 0x06;

/// What a filter returns for a frame it keeps (snap length: 256 KiB).
pub const KEEP: u32 = 0x0004_0000;

/// Where a conditional jump goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum To {
    /// The next instruction.
    Next,
    /// The program's final "drop" (return 0).
    Drop,
    /// The program's final "keep" (return [`KEEP`]).
    Keep,
    /// Skip this many instructions after the next one.
    Skip(u8),
}

/// A tiny assembler for filters that end in "drop" or "keep": conditional
/// jumps name where they go, and [`Asm::finish`] computes the offsets.
#[derive(Debug, Default)]
pub struct Asm {
    prog: Vec<(Insn, To, To)>,
}

impl Asm {
    pub fn new() -> Self {
        Asm::default()
    }
    /// A load or other non-jump instruction.
    pub fn op(&mut self, code: u16, k: u32) -> &mut Self {
        self.prog.push((insn(code, 0, 0, k), To::Next, To::Next));
        self
    }
    /// A conditional jump: to `t` if the test holds, else to `f`.
    pub fn jump(&mut self, code: u16, k: u32, t: To, f: To) -> &mut Self {
        self.prog.push((insn(code, 0, 0, k), t, f));
        self
    }
    /// The program: the instructions, then `keep` if the last one falls
    /// through, then `drop`.
    pub fn finish(&self) -> Vec<Insn> {
        let n = self.prog.len();
        let (keep, drop) = (n, n + 1);
        let off = |i: usize, to: To| -> u8 {
            let target = match to {
                To::Next => i + 1,
                To::Skip(n) => i + 1 + n as usize,
                To::Keep => keep,
                To::Drop => drop,
            };
            u8::try_from(target - i - 1).expect("filter too long for classic BPF jumps")
        };
        let mut out: Vec<Insn> = self
            .prog
            .iter()
            .enumerate()
            .map(|(i, &(mut ins, t, f))| {
                ins.jt = off(i, t);
                ins.jf = off(i, f);
                ins
            })
            .collect();
        out.push(insn(RET_K, 0, 0, KEEP));
        out.push(insn(RET_K, 0, 0, 0));
        out
    }
}

/// Run `prog` over `pkt` as the kernel would; returns the snap length (0 =
/// dropped). Reads past the end drop the frame, as in the kernel.
pub fn run(prog: &[Insn], pkt: &[u8]) -> u32 {
    let (mut a, mut x, mut pc) = (0u32, 0u32, 0usize);
    let ld = |off: usize, n: usize| -> Option<u32> {
        pkt.get(off..off.checked_add(n)?)
            .map(|b| b.iter().fold(0, |acc, &v| (acc << 8) | v as u32))
    };
    loop {
        let Some(&i) = prog.get(pc) else { return 0 };
        pc += 1;
        let jump = |cond: bool| if cond { i.jt as usize } else { i.jf as usize };
        match i.code {
            LD_H_ABS | LD_W_ABS | LD_B_ABS => {
                let n = match i.code {
                    LD_H_ABS => 2,
                    LD_W_ABS => 4,
                    _ => 1,
                };
                match ld(i.k as usize, n) {
                    Some(v) => a = v,
                    None => return 0,
                }
            }
            LDX_B_MSH => match ld(i.k as usize, 1) {
                Some(v) => x = (v & 0xf) * 4,
                None => return 0,
            },
            LD_H_IND => match ld(x as usize + i.k as usize, 2) {
                Some(v) => a = v,
                None => return 0,
            },
            LD_B_IND => match ld(x as usize + i.k as usize, 1) {
                Some(v) => a = v,
                None => return 0,
            },
            JEQ_K => pc += jump(a == i.k),
            JGE_K => pc += jump(a >= i.k),
            JGT_K => pc += jump(a > i.k),
            JSET_K => pc += jump(a & i.k != 0),
            RET_K => return i.k,
            _ => return 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpreter_basics() {
        let prog = [
            insn(LD_B_ABS, 0, 0, 1),
            insn(JEQ_K, 0, 1, 7),
            insn(RET_K, 0, 0, KEEP),
            insn(RET_K, 0, 0, 0),
        ];
        assert_eq!(run(&prog, &[0, 7]), KEEP);
        assert_eq!(run(&prog, &[0, 8]), 0);
        assert_eq!(run(&prog, &[0]), 0, "short frame");
        assert_eq!(run(&[], &[1]), 0, "empty program");
    }
}
