//! The local secret key behind artifact fingerprints (HMAC) and signed reply
//! addresses: 32 random bytes, hex in a file created with mode 0600 on first
//! start. Losing it means new fingerprints no longer match old ones.
//!
//! Must not log or print the key.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("key file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("key file {path} does not hold a 64-character hex key")]
    Malformed { path: PathBuf },
    #[error("key file {path} is readable by other users (mode {mode:o}); run: chmod 600 {path}")]
    Permissions { path: PathBuf, mode: u32 },
    #[error("cannot get random bytes for a new key: {0}")]
    Random(String),
}

#[derive(Clone)]
pub struct Key(Vec<u8>);

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(<hidden>)")
    }
}

impl Key {
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// A fixed key for tests and benchmarks.
    pub fn from_bytes(bytes: &[u8]) -> Key {
        Key(bytes.to_vec())
    }

    /// Reads the key at `path`, creating it (0600, folder included) if missing.
    /// Returns the key and whether it was created.
    pub fn load_or_create(path: &Path) -> Result<(Key, bool), KeyError> {
        let io = |source| KeyError::Io {
            path: path.to_path_buf(),
            source,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => {
                check_mode(path)?;
                let bytes = hex::decode(text.trim()).map_err(|_| KeyError::Malformed {
                    path: path.to_path_buf(),
                })?;
                if bytes.len() != 32 {
                    return Err(KeyError::Malformed {
                        path: path.to_path_buf(),
                    });
                }
                Ok((Key(bytes), false))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(io)?;
                }
                let mut bytes = vec![0u8; 32];
                getrandom::fill(&mut bytes).map_err(|e| KeyError::Random(e.to_string()))?;
                let mut opts = std::fs::OpenOptions::new();
                opts.write(true).create_new(true);
                #[cfg(unix)]
                {
                    use std::os::unix::fs::OpenOptionsExt;
                    opts.mode(0o600);
                }
                match opts.open(path) {
                    Ok(mut f) => {
                        f.write_all(hex::encode(&bytes).as_bytes()).map_err(io)?;
                        f.write_all(b"\n").map_err(io)?;
                        f.sync_all().map_err(io)?;
                        Ok((Key(bytes), true))
                    }
                    // Another process created it first: use theirs.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        Key::load_or_create(path)
                    }
                    Err(e) => Err(io(e)),
                }
            }
            Err(e) => Err(io(e)),
        }
    }
}

#[cfg(unix)]
fn check_mode(path: &Path) -> Result<(), KeyError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .map_err(|source| KeyError::Io {
            path: path.to_path_buf(),
            source,
        })?
        .permissions()
        .mode()
        & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyError::Permissions {
            path: path.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_mode(_: &Path) -> Result<(), KeyError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_with_mode_0600_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/closeloop.key");
        let (k1, created) = Key::load_or_create(&path).unwrap();
        assert!(created);
        let (k2, created) = Key::load_or_create(&path).unwrap();
        assert!(!created);
        assert_eq!(k1.bytes(), k2.bytes());
        assert_eq!(k1.bytes().len(), 32);
        assert!(!format!("{k1:?}").contains(&hex::encode(k1.bytes())[..8]));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            let err = Key::load_or_create(&path).unwrap_err().to_string();
            assert!(err.contains("chmod 600"), "{err}");
        }
    }

    #[test]
    fn malformed_key_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        std::fs::write(&path, "not hex").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let err = Key::load_or_create(&path).unwrap_err().to_string();
        assert!(err.contains(&path.display().to_string()), "{err}");
    }
}
