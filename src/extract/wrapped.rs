//! Links that mail filters wrap around every link of a message: Microsoft Safe Links
//! (`https://eur01.safelinks.protection.outlook.com/?url=https%3A%2F%2F…&data=…`),
//! Proofpoint URL Defense (`https://urldefense.proofpoint.com/v2/url?u=https-3A__…` and
//! `https://urldefense.com/v3/__https://…__;Kw!!…$`), Barracuda, Trend Micro, and
//! Google's redirect (`https://www.google.com/url?q=https://…`). The wrapped link is where the
//! link really goes, and a key in its query is written escaped, or followed by the
//! wrapper's own characters: the scanner reads the wrapped link decoded, on its own.

use super::decoded::Decoded;
use super::rules;
use super::validate::b64_decode;

/// The link a wrapper wraps.
pub(super) struct Wrapped {
    /// Where the wrapped link is written in the wrapper.
    pub from: usize,
    pub to: usize,
    /// The wrapped link decoded, with the way back to where it is written.
    pub view: Decoded,
    /// The wrapped link as it goes (the same as `view.text` but for Proofpoint v3,
    /// whose replaced characters are all put back here, and in `view` only those
    /// that keep its offsets).
    pub link: String,
}

/// The link `url` wraps, when `url` is a mail filter's wrapper around a web address.
pub(super) fn unwrap(url: &str) -> Option<Wrapped> {
    let host = rules::url_host(url)?;
    // What follows the host (and its port, if any).
    let authority = url.find("://")? + 3;
    let path = &url[authority + url[authority..].find(['/', '?', '#'])?..];
    let percent_escaped = |name: &str| {
        query_param(url, name).map(|(from, to)| {
            let raw = &url[from..to];
            let view = Decoded::percent(raw).unwrap_or_else(|| Decoded::plain(raw.into()));
            (from, to, view)
        })
    };
    let wrapped = if ends_with_ignore_case(host, ".safelinks.protection.outlook.com") {
        percent_escaped("url")
    } else if host.eq_ignore_ascii_case("linkprotect.cudasvc.com") && path.starts_with("/url?") {
        // Barracuda Link Protection
        percent_escaped("a")
    } else if ends_with_ignore_case(host, ".trendmicro.com")
        && path.starts_with("/wis/clicktime/v1/query?")
    {
        // Trend Micro Email Security's time-of-click protection
        percent_escaped("url")
    } else if (host.eq_ignore_ascii_case("www.google.com")
        || host.eq_ignore_ascii_case("google.com"))
        && path.starts_with("/url?")
    {
        // Google's redirect, as Gmail and Google Docs write links
        percent_escaped("q").or_else(|| percent_escaped("url"))
    } else if host.eq_ignore_ascii_case("urldefense.proofpoint.com") {
        if path.starts_with("/v1/url?") {
            percent_escaped("u")
        } else if path.starts_with("/v2/url?") {
            query_param(url, "u")
                .map(|(from, to)| (from, to, Decoded::proofpoint_v2(&url[from..to])))
        } else {
            None
        }
    } else if host.eq_ignore_ascii_case("urldefense.com") && path.starts_with("/v3/__") {
        return proofpoint_v3(url, url.len() - path.len() + "/v3/__".len());
    } else {
        None
    };
    let (from, to, view) = wrapped?;
    goes_somewhere(&view.text)?;
    let link = view.text.clone();
    Some(Wrapped {
        from,
        to,
        view,
        link,
    })
}

/// Proofpoint v3 writes the link as it is, between `__` and `__;`, but for characters
/// it replaced by `*` (one) or `**` and a letter (a run of 2 to 65), given in order
/// after `__;` in base64url, up to `!` (`%` and `#` are, so a key percent-escaped in a
/// query, as an Azure SAS signature, is written `sig=…*2B…`). The link is scanned with
/// each ASCII character replaced alone put back (offsets are kept: a key is found whole
/// and redacted where it is written), and kept with all of them put back.
fn proofpoint_v3(url: &str, from: usize) -> Option<Wrapped> {
    let to = from + url[from..].find("__;")?;
    let written = &url[from..to];
    goes_somewhere(written)?;
    let tail = &url[to + 3..];
    let encoded = &tail[..tail.find('!').unwrap_or(tail.len())];
    let replaced: Vec<char> = b64_decode(encoded)
        .map(|b| String::from_utf8_lossy(&b).chars().collect())
        .unwrap_or_default();
    let mut link = String::with_capacity(written.len());
    let mut view = String::with_capacity(written.len());
    let mut next = 0;
    let mut chars = written.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '*' {
            link.push(c);
            view.push(c);
            continue;
        }
        let run = if chars.peek() == Some(&'*') {
            chars.next();
            let x = chars.next();
            view.push_str("**");
            view.extend(x);
            x.and_then(run_length)
        } else {
            Some(1)
        };
        match run.and_then(|n| replaced.get(next..next + n)) {
            Some(put_back) => {
                link.extend(put_back);
                next += put_back.len();
                if let [one] = put_back {
                    view.push(if one.is_ascii() { *one } else { '*' });
                }
            }
            // Not as Proofpoint writes it: keep what is written.
            None => {
                link.push('*');
                if run == Some(1) {
                    view.push('*');
                }
            }
        }
    }
    debug_assert_eq!(view.len(), written.len());
    Some(Wrapped {
        from,
        to,
        view: Decoded::plain(view),
        link,
    })
}

/// The length of a run of replaced characters `**X` stands for: `A` 2, `B` 3, … `_` 65.
fn run_length(x: char) -> Option<usize> {
    const LETTERS: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    LETTERS.find(x).map(|i| i + 2)
}

/// Where the value of query parameter `name` is written in `url`.
fn query_param(url: &str, name: &str) -> Option<(usize, usize)> {
    let query = url.find('?')? + 1;
    let mut at = query;
    for param in url[query..].split('&') {
        let value_at = at + name.len() + 1;
        if param.len() > name.len()
            && param.as_bytes()[name.len()] == b'='
            && param[..name.len()].eq_ignore_ascii_case(name)
        {
            return Some((value_at, at + param.len()));
        }
        at += param.len() + 1;
    }
    None
}

/// `Some` when `link` names a host (a wrapped link, not a fragment of one).
fn goes_somewhere(link: &str) -> Option<()> {
    rules::url_host(link).filter(|h| !h.is_empty()).map(|_| ())
}

fn ends_with_ignore_case(s: &str, suffix: &str) -> bool {
    s.len() > suffix.len()
        && s.as_bytes()[s.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
}
