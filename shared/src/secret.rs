//! Random secrets (webhook secrets, API tokens, local master keys).

use zeroize::Zeroizing;

/// `bytes` random bytes from the operating system, hex-encoded.
pub fn random_hex(bytes: usize) -> Zeroizing<String> {
    let mut buf = Zeroizing::new(vec![0u8; bytes]);
    getrandom::fill(&mut buf).expect("the operating system's random source failed");
    Zeroizing::new(hex::encode(&*buf))
}

#[cfg(test)]
mod tests {
    #[test]
    fn random_hex_has_the_asked_length_and_differs() {
        let (a, b) = (super::random_hex(32), super::random_hex(32));
        assert_eq!(a.len(), 64);
        assert_ne!(*a, *b);
    }
}
