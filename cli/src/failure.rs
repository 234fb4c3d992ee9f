//! How a command fails, and the exit status each failure gives.

use gpupart_mig::Error as MigError;

/// A failed command: its message (printed to stderr) and its kind (the exit status).
#[derive(Debug)]
pub(crate) enum Failure {
    /// The arguments, a file or a configuration cannot be used (exit 2).
    Input(String),
    /// An assertion does not hold (exit 1).
    Mismatch(String),
    /// The host refused or failed (exit 1).
    Failed(String),
}

impl Failure {
    /// Exit status of bad input.
    pub(crate) const INPUT_STATUS: u8 = 2;

    /// The exit status.
    pub(crate) fn status(&self) -> u8 {
        match self {
            Failure::Input(_) => Self::INPUT_STATUS,
            Failure::Mismatch(_) | Failure::Failed(_) => 1,
        }
    }

    /// The same failure with `context` before its message.
    pub(crate) fn context(self, context: &str) -> Failure {
        match self {
            Failure::Input(m) => Failure::Input(format!("{context}: {m}")),
            Failure::Mismatch(m) => Failure::Mismatch(format!("{context}: {m}")),
            Failure::Failed(m) => Failure::Failed(format!("{context}: {m}")),
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Input(m) | Failure::Mismatch(m) | Failure::Failed(m) => {
                write!(f, "error: {m}")
            }
        }
    }
}

impl From<MigError> for Failure {
    fn from(e: MigError) -> Self {
        let message = e.to_string();
        match e {
            MigError::Config { .. }
            | MigError::NoSuchGpu { .. }
            | MigError::DuplicateGpu { .. }
            | MigError::NotMigCapable { .. }
            | MigError::UnknownProfile { .. }
            | MigError::NoNvmlIdInCatalog { .. }
            | MigError::Unplaceable { .. } => Failure::Input(message),
            MigError::Mismatch { .. } => Failure::Mismatch(message),
            MigError::Sriov(e) => Failure::from(e),
            _ => Failure::Failed(message),
        }
    }
}

impl From<gpupart_sriov::Error> for Failure {
    fn from(e: gpupart_sriov::Error) -> Self {
        use gpupart_sriov::Error as E;
        let message = e.to_string();
        match e {
            E::InvalidPciAddress { .. }
            | E::NoSuchDevice { .. }
            | E::NoSriov { .. }
            | E::TooManyVfs { .. }
            | E::VfsEnabled { .. }
            | E::InvalidName { .. }
            | E::NoSuchDriver { .. }
            | E::VgpuTypeNotCreatable { .. }
            | E::VgpuPlan { .. }
            | E::NotOwner { .. }
            | E::VgpuInUse { .. }
            | E::State { .. }
            | E::Nova { .. } => Failure::Input(message),
            _ => Failure::Failed(message),
        }
    }
}
