import COwdCrypto
#if canImport(Glibc)
import Glibc
#endif

/// `owd serve --tls-cert FILE --tls-key FILE`: the PEM certificate (chain) and private
/// key the HTTP library (libmicrohttpd's GnuTLS) serves HTTPS with. The key file is read
/// like the credentials file (refused when its group or others may read it); both are
/// checked, by OpenSSL's parsers, to be what they claim and to belong together, so that a
/// mistake is named rather than met as "cannot start".
public struct TLSIdentity {
    public let certificate: String
    /// NUL-free PEM text; zeroed by nobody (the process keeps it for its life, as the
    /// HTTP library does its copy).
    public let key: String
    /// The certificate's expiry (seconds since 1970), and whether it has passed.
    public let notAfter: Int64
    public let expired: Bool

    public static func load(certificate certPath: String, key keyPath: String) throws -> TLSIdentity {
        let cert = try PublicFile.read(path: certPath, kind: "TLS certificate file")
        let key = try SecretFile.read(path: keyPath, kind: "TLS key file", holds: "the server's private key")
        return try make(certificate: cert, key: key, certPath: certPath, keyPath: keyPath)
    }

    /// The same from the files' bytes (`certPath`, `keyPath` name them in errors).
    public static func make(certificate cert: [UInt8], key: [UInt8], certPath: String, keyPath: String) throws -> TLSIdentity {
        func fail(_ m: String) -> CredentialsFile.Failure { CredentialsFile.Failure(description: m) }
        guard !cert.contains(0) else { throw fail("TLS certificate file \(certPath) is not PEM text (it holds a NUL byte)") }
        guard !key.contains(0) else { throw fail("TLS key file \(keyPath) is not PEM text (it holds a NUL byte)") }
        let certText = String(decoding: cert, as: UTF8.self), keyText = String(decoding: key, as: UTF8.self)
        var notAfter: Int64 = 0
        var expired: Int32 = 0
        var err = [CChar](repeating: 0, count: 256)
        let rc = owdc_check_tls_pair(certText, keyText, &notAfter, &expired, &err, err.count)
        guard rc == 0 else {
            throw fail("TLS: \(String(cString: err)) (--tls-cert \(certPath), --tls-key \(keyPath))")
        }
        return TLSIdentity(certificate: certText, key: keyText, notAfter: notAfter, expired: expired != 0)
    }
}
