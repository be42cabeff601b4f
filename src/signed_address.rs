//! Per-case, per-responder signed reply addresses for `responders.auth = "token"`
//! (SPEC §5): `security+<n>.<mac>@domain`, where `<mac>` is the first 16 hex digits
//! of HMAC-SHA256(key, "<n>\0<responder, lowercase>"). A reply that reaches such an
//! address came from someone who received our letter for that case.
//!
//! It must not read the key from anywhere (the caller passes it) and must compare
//! MACs in constant time. The domain and the local part before `+` are routing, not
//! proof, and are not checked here.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::domain::CaseId;

type HmacSha256 = Hmac<Sha256>;

/// Bytes of the MAC kept in the address (16 hex digits): 64 bits, enough against
/// guessing by mail, short enough for a local part (RFC 5321: at most 64 octets).
const MAC_BYTES: usize = 8;

fn mac(key: &[u8], case: CaseId, responder: &str) -> HmacSha256 {
    let mut m = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    m.update(case.0.to_string().as_bytes());
    m.update(b"\0");
    m.update(responder.trim().to_lowercase().as_bytes());
    m
}

/// The reply address for `responder` on `case`: `local+<n>.<mac>@domain`.
pub fn sign(key: &[u8], local: &str, domain: &str, case: CaseId, responder: &str) -> String {
    let tag = mac(key, case, responder).finalize().into_bytes();
    format!(
        "{local}+{}.{}@{domain}",
        case.0,
        hex::encode(&tag[..MAC_BYTES])
    )
}

/// The case an address was signed for, if it was signed for `responder` with `key`.
/// Accepts the address bare or in `<…>`; hex digits in either case.
pub fn verify(key: &[u8], address: &str, responder: &str) -> Option<CaseId> {
    let address = address.trim().trim_start_matches('<').trim_end_matches('>');
    let (local, _domain) = address.rsplit_once('@')?;
    let (_, tag) = local.rsplit_once('+')?;
    let (n, hex_mac) = tag.split_once('.')?;
    if n.is_empty() || n.len() > 15 || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let case = CaseId(n.parse().ok().filter(|n: &i64| *n > 0)?);
    if hex_mac.len() != MAC_BYTES * 2 {
        return None;
    }
    let given = hex::decode(hex_mac).ok()?;
    mac(key, case, responder)
        .verify_truncated_left(&given)
        .ok()?;
    Some(case)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn signed_address_has_the_documented_shape() {
        let a = sign(
            KEY,
            "security",
            "example.org",
            CaseId(12),
            "Ann@Example.org",
        );
        let (local, domain) = a.split_once('@').unwrap();
        assert_eq!(domain, "example.org");
        let tag = local.strip_prefix("security+12.").unwrap();
        assert_eq!(tag.len(), 16);
        assert!(tag
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        // Responder case does not matter; the MAC is over the lowercase address.
        assert_eq!(
            a,
            sign(
                KEY,
                "security",
                "example.org",
                CaseId(12),
                "ann@example.org"
            )
        );
    }

    #[test]
    fn verify_accepts_only_the_signed_case_and_responder() {
        let good = sign(
            KEY,
            "security",
            "example.org",
            CaseId(12),
            "ann@example.org",
        );
        let other_case = sign(
            KEY,
            "security",
            "example.org",
            CaseId(13),
            "ann@example.org",
        );
        let (local, domain) = good.split_once('@').unwrap();
        let mut tampered = local.to_string();
        let last = tampered.pop().unwrap();
        tampered.push(if last == '0' { '1' } else { '0' });
        let tampered = format!("{tampered}@{domain}");
        let swapped_case = good.replace("+12.", "+13.");
        let mac13 = other_case.split_once('.').unwrap().1;
        let spliced = format!("security+12.{mac13}");

        let check = |addr: &str, who: &str, want: Option<i64>| {
            assert_eq!(verify(KEY, addr, who).map(|c| c.0), want, "{addr} as {who}");
        };
        check(&good, "ann@example.org", Some(12));
        check(&good, " ANN@example.org ", Some(12));
        check(&format!("<{good}>"), "ann@example.org", Some(12));
        check(&good.to_uppercase(), "ann@example.org", Some(12));
        check(&other_case, "ann@example.org", Some(13));
        check(&good, "bob@example.org", None);
        check(&tampered, "ann@example.org", None);
        check(&swapped_case, "ann@example.org", None);
        check(&spliced, "ann@example.org", None);
        check("security+12.@example.org", "ann@example.org", None);
        check("security@example.org", "ann@example.org", None);
        check("security+12@example.org", "ann@example.org", None);
        check(
            "security+0.0000000000000000@example.org",
            "ann@example.org",
            None,
        );
        check(
            "security+x.0000000000000000@example.org",
            "ann@example.org",
            None,
        );
        check(
            "security+12.zzzzzzzzzzzzzzzz@example.org",
            "ann@example.org",
            None,
        );
        check(
            &format!("{}@example.org", &local[..local.len() - 2]),
            "ann@example.org",
            None,
        );
        assert_eq!(verify(b"another key", &good, "ann@example.org"), None);
    }
}
