//! The `--pid` file: created only when no other live process owns it, never through a
//! symlink, and removed at exit only when it still holds this process's id.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use nix::errno::Errno;
use nix::sys::signal::kill;
use nix::unistd::{Pid, geteuid};

/// A pid file this process created; removed on drop when it still holds our pid.
#[derive(Debug)]
pub(crate) struct PidFile {
    path: PathBuf,
    pid: u32,
}

fn alive(pid: i32) -> bool {
    // EPERM: the process exists but belongs to someone else.
    pid > 0 && matches!(kill(Pid::from_raw(pid), None), Ok(()) | Err(Errno::EPERM))
}

impl PidFile {
    /// Writes this process's id to `path`.
    ///
    /// # Errors
    /// The file exists and names a live process, is not a plain file of ours (a symlink,
    /// another user's file), or cannot be written; the message gives the OS reason.
    pub(crate) fn create(path: &Path) -> anyhow::Result<Self> {
        let shown = path.display();
        if let Ok(meta) = std::fs::symlink_metadata(path) {
            if !meta.file_type().is_file() {
                bail!(
                    "the pid file {shown} exists and is not a plain file (a symlink?); refusing to touch it"
                );
            }
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the existing pid file {shown}"))?;
            // Our own pid in the file is a previous run's: a restarted container gives
            // rqs the same pid (1, often), and this process has written no file yet.
            if let Ok(pid) = text.trim().parse::<i32>()
                && alive(pid)
                && u32::try_from(pid).ok() != Some(std::process::id())
            {
                bail!("the pid file {shown} belongs to the running process {pid}");
            }
            if meta.uid() != geteuid().as_raw() {
                bail!(
                    "the pid file {shown} is stale but belongs to user {}; remove it by hand",
                    meta.uid()
                );
            }
            std::fs::remove_file(path)
                .with_context(|| format!("cannot remove the stale pid file {shown}"))?;
        }
        let pid = std::process::id();
        // create_new is O_CREAT|O_EXCL: it never follows a symlink put there meanwhile.
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .with_context(|| format!("cannot create the pid file {shown}"))?;
        write!(file, "{pid}").with_context(|| format!("cannot write the pid file {shown}"))?;
        Ok(Self {
            path: path.to_owned(),
            pid,
        })
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let ours = std::fs::symlink_metadata(&self.path).is_ok_and(|m| m.file_type().is_file())
            && std::fs::read_to_string(&self.path)
                .is_ok_and(|t| t.trim().parse::<u32>().ok() == Some(self.pid));
        if ours {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pid_file_is_exclusive_and_removed_only_when_ours() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rqs.pid");
        let file = PidFile::create(&path).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap().trim(),
            std::process::id().to_string()
        );
        drop(file);
        assert!(!path.exists(), "removed at exit");

        // Another live process owns it: refused, and the file is left alone.
        let mut other = std::process::Command::new("sleep")
            .arg("600")
            .spawn()
            .unwrap();
        std::fs::write(&path, other.id().to_string()).unwrap();
        let err = PidFile::create(&path).map(drop).unwrap_err().to_string();
        let _ = other.kill();
        let _ = other.wait();
        assert!(err.contains("belongs to the running process"), "{err}");
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            other.id().to_string()
        );
        std::fs::remove_file(&path).unwrap();

        // A file rewritten by someone else is left alone.
        let file = PidFile::create(&path).unwrap();
        std::fs::write(&path, "1\n").unwrap();
        drop(file);
        assert!(path.exists());
    }

    /// A restarted container runs rqs as pid 1 again, and finds the pid file of its
    /// previous run holding 1: that is not another instance.
    #[test]
    fn a_pid_file_holding_our_own_pid_is_a_previous_runs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rqs.pid");
        std::fs::write(&path, format!("{}\n", std::process::id())).unwrap();
        let file = PidFile::create(&path).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            std::process::id().to_string()
        );
        drop(file);
        assert!(!path.exists(), "removed at exit");
    }

    #[test]
    fn a_stale_pid_file_is_replaced_and_a_symlink_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rqs.pid");
        std::fs::write(&path, "999999999\n").unwrap();
        let _file = PidFile::create(&path).unwrap();
        let victim = dir.path().join("victim.conf");
        std::fs::write(&victim, "keep me").unwrap();
        let link = dir.path().join("link.pid");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        let err = PidFile::create(&link).unwrap_err().to_string();
        assert!(err.contains("not a plain file"), "{err}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
        let err = PidFile::create(&dir.path().join("no/such/dir/rqs.pid")).unwrap_err();
        assert!(
            format!("{err:#}").contains("No such file or directory"),
            "{err:#}"
        );
    }
}
