//! Where log lines go and which: what `CLOSELOOP_LOG` asks for, less the targets
//! that would write secrets whatever the level.

use tracing_subscriber::filter::{filter_fn, FilterExt};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Targets never logged: async-imap traces every line it sends and reads — the LOGIN
/// password, the AUTHENTICATE token, whole messages with the secrets they report.
const WIRE_TARGETS: &[&str] = &["async_imap"];

/// The subscriber for the binary (and the tests): log lines to `writer` as `spec` (the
/// value of `CLOSELOOP_LOG`, e.g. `debug` or `info,closeloop::imap=trace`) asks, or at
/// `default_level` when it is absent or not a filter. The wire targets are filtered out
/// after that: no directive in `spec`, however specific, lets them through.
pub fn subscriber<W>(
    spec: Option<&str>,
    default_level: &str,
    writer: W,
    ansi: bool,
) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let asked = spec
        .and_then(|s| EnvFilter::try_new(s).ok())
        .unwrap_or_else(|| EnvFilter::new(default_level));
    let off_the_wire = filter_fn(|meta| {
        !WIRE_TARGETS.iter().any(|wire| {
            meta.target()
                .strip_prefix(wire)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
        })
    });
    let lines = tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_ansi(ansi)
        .with_target(false)
        .with_filter(asked.and(off_the_wire));
    tracing_subscriber::registry().with(lines)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    /// What `subscriber(spec, "warn", …)` writes for a trace line from
    /// async-imap's stream and one from closeloop.
    fn written(spec: Option<&str>) -> String {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = buf.clone();
        let subscriber = super::subscriber(spec, "warn", move || Sink(sink.clone()), false);
        tracing::subscriber::with_default(subscriber, || {
            tracing::trace!(target: "async_imap::imap_stream", "encode: LOGIN sec hunter2");
            tracing::trace!(target: "closeloop::imap", "fetched a batch");
            tracing::warn!(target: "closeloop::imap", "reconnecting");
        });
        let out = buf.lock().unwrap().clone();
        String::from_utf8(out).unwrap()
    }

    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Sink {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_imap_wire_is_never_logged_at_any_level() {
        for spec in [
            "trace",
            "trace,async_imap=trace",
            "trace,async_imap::imap_stream=trace",
        ] {
            let out = written(Some(spec));
            assert!(!out.contains("hunter2"), "{spec}: {out}");
            assert!(out.contains("fetched a batch"), "{spec}: {out}");
        }
    }

    #[test]
    fn the_default_level_applies_without_a_valid_spec() {
        for spec in [None, Some("not a [filter")] {
            let out = written(spec);
            assert!(out.contains("reconnecting"), "{spec:?}: {out}");
            assert!(!out.contains("fetched a batch"), "{spec:?}: {out}");
        }
    }
}
