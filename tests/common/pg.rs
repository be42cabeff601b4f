//! The backends the store tests run on: SQLite always, PostgreSQL when env
//! `CLOSELOOP_TEST_POSTGRES` holds a server URL (`postgres://user@host:port`).
//! Each PostgreSQL test gets a fresh database, dropped at the end. Once the
//! variable is set, a server that does not answer fails the test loudly.

use sqlx::{Connection, Executor};

pub const ENV: &str = "CLOSELOOP_TEST_POSTGRES";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The PostgreSQL server URL to test against, when configured.
    pub fn postgres_server() -> Option<String> {
        std::env::var(ENV)
            .ok()
            .map(|s| s.trim().trim_end_matches('/').to_string())
            .filter(|s| !s.is_empty())
    }

    pub fn postgres_enabled() -> bool {
        Backend::postgres_server().is_some()
    }
}

/// Runs each named `async fn NAME(backend: Backend)` as two tests,
/// `NAME::sqlite` and `NAME::postgres` (the latter only does work when
/// `CLOSELOOP_TEST_POSTGRES` is set).
#[allow(unused_macros)]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn sqlite() {
                    super::$name($crate::common::Backend::Sqlite).await
                }
                #[tokio::test]
                async fn postgres() {
                    if $crate::common::Backend::postgres_enabled() {
                        super::$name($crate::common::Backend::Postgres).await
                    }
                }
            }
        )*
    };
}
#[allow(unused_imports)]
pub(crate) use on_both_backends;

/// A fresh database on the test server; dropped (forcibly) with this value.
pub struct TestDb {
    pub name: String,
    pub url: String,
    server: String,
}

/// `postgres://u@h:p/anything?x` → `postgres://u@h:p`.
fn server_part(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
    let host = rest.split(['/', '?']).next().unwrap_or(rest);
    format!("{scheme}://{host}")
}

/// Runs a future on a runtime of its own, in a thread of its own, so it can
/// be called from sync tests, async tests and `Drop` alike.
fn block_on<T: Send + 'static>(f: impl std::future::Future<Output = T> + Send + 'static) -> T {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    })
    .join()
    .unwrap()
}

async fn maintenance(server: &str) -> sqlx::PgConnection {
    let url = format!("{server}/postgres");
    match sqlx::PgConnection::connect(&url).await {
        Ok(c) => c,
        Err(e) => panic!(
            "{ENV} is set, but PostgreSQL at {server} does not answer: {e}. \
             Start it (tests/run.sh does) or unset {ENV} to test SQLite only."
        ),
    }
}

impl TestDb {
    pub fn create() -> TestDb {
        let server =
            server_part(&Backend::postgres_server().expect("CLOSELOOP_TEST_POSTGRES is not set"));
        let mut rnd = [0u8; 6];
        getrandom::fill(&mut rnd).unwrap();
        let name = format!("cl_test_{}", hex::encode(rnd));
        let (s, n) = (server.clone(), name.clone());
        block_on(async move {
            let mut c = maintenance(&s).await;
            c.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {n}")))
                .await
                .unwrap_or_else(|e| panic!("cannot create test database {n} at {s}: {e}"));
            c.close().await.ok();
        });
        TestDb {
            url: format!("{server}/{name}"),
            name,
            server,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let (s, n) = (self.server.clone(), self.name.clone());
        // Never panic here: a drop during a failing test's unwinding would abort.
        block_on(async move {
            let mut c = match sqlx::PgConnection::connect(&format!("{s}/postgres")).await {
                Ok(c) => c,
                Err(e) => return eprintln!("could not drop test database {n}: {e}"),
            };
            let sql = format!("DROP DATABASE IF EXISTS {n} WITH (FORCE)");
            if let Err(e) = c.execute(sqlx::AssertSqlSafe(sql)).await {
                eprintln!("could not drop test database {n}: {e}");
            }
            c.close().await.ok();
        });
    }
}
