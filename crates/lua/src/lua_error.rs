//! Reading mlua's errors: the text Lua code sees, and whether an error was
//! a failed allocation.

/// The text of an error, without mlua's prefix.
pub fn error_text(e: &mlua::Error) -> String {
    match e {
        mlua::Error::RuntimeError(m) => m.clone(),
        mlua::Error::CallbackError { traceback, cause } => {
            format!("{}\n{traceback}", error_text(cause))
        }
        mlua::Error::WithContext { context, cause } => {
            format!("{context}: {}", error_text(cause))
        }
        other => other.to_string(),
    }
}

/// True if `e` is, or was caused by, a failed allocation.
pub fn is_memory_error(e: &mlua::Error) -> bool {
    match e {
        mlua::Error::MemoryError(_) => true,
        mlua::Error::CallbackError { cause, .. } | mlua::Error::WithContext { cause, .. } => {
            is_memory_error(cause)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn text_drops_the_prefix_and_keeps_the_traceback() {
        let e = mlua::Error::runtime("boom");
        assert_eq!(error_text(&e), "boom");
        let e = mlua::Error::CallbackError {
            traceback: "tb".into(),
            cause: Arc::new(mlua::Error::runtime("boom")),
        };
        assert_eq!(error_text(&e), "boom\ntb");
    }

    #[test]
    fn a_wrapped_memory_error_is_seen() {
        let e = mlua::Error::CallbackError {
            traceback: String::new(),
            cause: Arc::new(mlua::Error::MemoryError("out".into())),
        };
        assert!(is_memory_error(&e));
        assert!(!is_memory_error(&mlua::Error::runtime("x")));
    }
}
