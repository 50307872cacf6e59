//! How a plugin (strfry's write-policy protocol) is started, the same for the relay and for
//! `parrhesia-tools`: a path to an executable runs as itself, anything else as a shell command
//! line (`sh -c`, so operators can write `deno run ... policy.ts`), in a process group of its
//! own so that killing the group also reaches a shell's children.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The executable `command` names, if it is a path to a file (the relay watches it for changes).
pub fn plugin_file(command: &str) -> Option<PathBuf> {
    Path::new(command).is_file().then(|| PathBuf::from(command))
}

/// The command that starts `command` (its stdio still to be set by the caller).
pub fn plugin_command(command: &str) -> Command {
    let mut process = match plugin_file(command) {
        Some(file) => Command::new(file),
        None => {
            let mut shell = Command::new("sh");
            shell.arg("-c").arg(command);
            shell
        }
    };
    std::os::unix::process::CommandExt::process_group(&mut process, 0);
    process
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_runs_as_itself_and_anything_else_through_the_shell() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("policy.py");
        std::fs::write(&script, "").unwrap();
        let path = script.to_str().unwrap();
        assert_eq!(plugin_file(path), Some(script.clone()));
        assert_eq!(plugin_command(path).get_program(), script.as_os_str());
        let line = "deno run policy.ts";
        assert_eq!(plugin_file(line), None);
        let shell = plugin_command(line);
        assert_eq!(shell.get_program(), "sh");
        assert_eq!(shell.get_args().collect::<Vec<_>>(), ["-c", line]);
    }
}
