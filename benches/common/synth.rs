//! A synthetic but realistic mailbox for benchmarks: reports of leaked keys
//! and odd service accounts in a realistic size mix (plain 2–4 KB, build logs
//! ~8 KB, HTML with an attachment ~40 KB), 30 % duplicates (the same secret or
//! the same forwarded original as an earlier report), 5 % quarantine/ignore.
//! Deterministic: the same seed gives the same mailbox.
#![allow(dead_code)]

pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    pub fn s(&mut self, n: usize, alphabet: &str) -> String {
        let a = alphabet.as_bytes();
        (0..n)
            .map(|_| a[(self.next() % a.len() as u64) as usize] as char)
            .collect()
    }
}

const ALNUM: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const UPNUM: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const WORDS: &[&str] = &[
    "the",
    "build",
    "failed",
    "while",
    "deploying",
    "service",
    "to",
    "production",
    "cluster",
    "after",
    "retry",
    "worker",
    "pod",
    "restarted",
    "config",
    "loaded",
    "from",
    "vault",
    "cache",
    "miss",
    "request",
    "timeout",
    "upstream",
    "connection",
    "reset",
    "by",
    "peer",
    "scheduled",
    "job",
    "finished",
    "with",
    "warnings",
];

/// Prose-like filler of about `bytes` bytes, in lines.
pub fn filler(r: &mut Rng, bytes: usize) -> String {
    let mut s = String::with_capacity(bytes + 80);
    while s.len() < bytes {
        let n = 6 + r.below(10) as usize;
        for i in 0..n {
            if i > 0 {
                s.push(' ');
            }
            s.push_str(WORDS[r.below(WORDS.len() as u64) as usize]);
        }
        s.push_str(&format!(" step={} t={}ms\n", r.below(90), r.below(5000)));
    }
    s
}

/// What a generated message is meant to become.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    New,
    DuplicateSecret,
    DuplicateOriginal,
    Quarantine,
    Ignore,
}

pub struct Mailbox {
    pub messages: Vec<(Kind, Vec<u8>)>,
}

/// Generates `n` messages. `size_mix` false gives all ~4 KB plain messages.
pub fn mailbox(n: usize, seed: u64, size_mix: bool) -> Mailbox {
    let mut r = Rng::new(seed);
    let mut secrets: Vec<String> = Vec::new();
    let mut originals: Vec<String> = Vec::new();
    let mut messages = Vec::with_capacity(n);
    for i in 0..n {
        let roll = r.below(100);
        let kind = if roll < 3 {
            Kind::Quarantine
        } else if roll < 5 {
            Kind::Ignore
        } else if roll < 20 && !secrets.is_empty() {
            Kind::DuplicateSecret
        } else if roll < 35 && !originals.is_empty() {
            Kind::DuplicateOriginal
        } else {
            Kind::New
        };
        let raw = message(&mut r, i, kind, &mut secrets, &mut originals, size_mix);
        messages.push((kind, raw));
    }
    Mailbox { messages }
}

pub fn message(
    r: &mut Rng,
    i: usize,
    kind: Kind,
    secrets: &mut Vec<String>,
    originals: &mut Vec<String>,
    size_mix: bool,
) -> Vec<u8> {
    let from = match kind {
        Kind::Quarantine => format!("someone{i}@outside.test"),
        _ => format!("staff{}@example.org", r.below(2000)),
    };
    let mut headers = String::new();
    if kind == Kind::Ignore {
        headers.push_str("Auto-Submitted: auto-replied\r\n");
    }
    let secret = match kind {
        Kind::DuplicateSecret => secrets[r.below(secrets.len() as u64) as usize].clone(),
        _ => {
            let s = format!("{}{}", "AKIA", r.s(16, UPNUM));
            secrets.push(s.clone());
            s
        }
    };
    let original = match kind {
        Kind::DuplicateOriginal => originals[r.below(originals.len() as u64) as usize].clone(),
        _ => {
            let o = format!("build-{i}-{}@ci.example.org", r.s(8, ALNUM));
            originals.push(o.clone());
            o
        }
    };
    let size_roll = if size_mix { r.below(10) } else { 0 };
    let body_bytes = match size_roll {
        0..=5 => 3_000,
        6..=8 => 8_000,
        _ => 36_000,
    };
    let log = filler(r, body_bytes);
    let text = format!(
        "Hi security,\r\n\r\nI found this in our CI output, please have a look.\r\n\r\n\
         ---------- Forwarded message ---------\r\nFrom: CI <ci@example.org>\r\n\
         Date: Mon, Nov 2, 2026 at 9:{:02} AM\r\nSubject: Build #{i} failed\r\nTo: dev@example.org\r\n\
         Message-ID: <{original}>\r\n\r\n{}\r\nexport AWS_ACCESS_KEY_ID={secret}\r\n{}\r\n",
        i % 60,
        &log[..log.len() / 2],
        &log[log.len() / 2..]
    )
    .replace('\n', "\r\n")
    .replace("\r\r\n", "\r\n");
    let body = if size_roll == 9 {
        // HTML alternative plus a text attachment.
        format!(
            "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"m{i}\"\r\n\r\n--m{i}\r\n\
             Content-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>{}</p></body></html>\r\n--m{i}\r\n\
             Content-Type: text/plain; name=\"ci.log\"\r\nContent-Disposition: attachment; filename=\"ci.log\"\r\n\r\n\
             {}\r\n--m{i}--\r\n",
            text.replace("\r\n", "<br>\r\n"),
            filler(r, 4_000).replace('\n', "\r\n")
        )
    } else {
        format!("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}")
    };
    format!(
        "{headers}From: {from}\r\nTo: security@example.org\r\nSubject: Fwd: Build #{i} failed\r\n\
         Message-ID: <report-{i}-{}@example.org>\r\nDate: Mon, 2 Nov 2026 10:{:02}:00 +0000\r\n{body}",
        r.s(6, ALNUM),
        i % 60
    )
    .into_bytes()
}
