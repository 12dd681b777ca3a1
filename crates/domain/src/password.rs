//! The password policy: long enough, and not one of the passwords attackers try first.
//! The list ships with the binary (`common-passwords.txt`), so no network is needed.

/// Shortest accepted password, in characters.
pub const MIN_LENGTH: usize = 8;
/// Longest accepted password: bounds the work argon2 does for a hostile request.
pub const MAX_LENGTH: usize = 256;

const COMMON: &str = include_str!("common-passwords.txt");

/// Why a password is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WeakPassword {
    #[error("must be at least {MIN_LENGTH} characters")]
    TooShort,
    #[error("must be at most {MAX_LENGTH} characters")]
    TooLong,
    #[error("is too common; choose a password that is harder to guess")]
    Common,
}

/// Checks a new password against the policy.
pub fn check_strength(password: &str) -> Result<(), WeakPassword> {
    let length = password.chars().count();
    if length < MIN_LENGTH {
        return Err(WeakPassword::TooShort);
    }
    if length > MAX_LENGTH {
        return Err(WeakPassword::TooLong);
    }
    let lowered = password.to_lowercase();
    if COMMON.lines().any(|common| common == lowered) {
        return Err(WeakPassword::Common);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enforces_length_and_common_list() {
        assert_eq!(check_strength("short"), Err(WeakPassword::TooShort));
        assert_eq!(check_strength("Password1"), Err(WeakPassword::Common));
        assert_eq!(check_strength(&"x".repeat(300)), Err(WeakPassword::TooLong));
        assert_eq!(check_strength("correct horse battery"), Ok(()));
    }
}
