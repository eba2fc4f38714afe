#if canImport(Glibc)
import Glibc
#endif

/// The agent's AWS credentials, found as the SDKs find them: with AWS_PROFILE set, that
/// profile of the shared credentials file; else AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY
/// (and AWS_SESSION_TOKEN); else the file's `default` profile.
public struct AgentCredentials: Equatable, Sendable {
    public let accessKeyID: String
    public let secretAccessKey: String
    public let sessionToken: String?
    /// Where they came from, for the start line (never the secret).
    public let source: String

    public struct Failure: Error, CustomStringConvertible, Equatable {
        public let description: String
    }

    public static func resolve(_ environment: [String: String]) throws -> AgentCredentials {
        func value(_ name: String) -> String? {
            guard let v = environment[name], !v.isEmpty else { return nil }
            return v
        }
        let profile = value("AWS_PROFILE")
        if profile == nil, let id = value("AWS_ACCESS_KEY_ID") {
            guard let secret = value("AWS_SECRET_ACCESS_KEY") else {
                throw Failure(description: "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not")
            }
            return AgentCredentials(accessKeyID: id, secretAccessKey: secret, sessionToken: value("AWS_SESSION_TOKEN"),
                                    source: "the environment (AWS_ACCESS_KEY_ID)")
        }
        var path = value("AWS_SHARED_CREDENTIALS_FILE")
        if path == nil, let home = value("HOME") { path = home + "/.aws/credentials" }
        guard let path else {
            throw Failure(description: "no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE (HOME is not set to find ~/.aws/credentials)")
        }
        let name = profile ?? "default"
        let text: String
        do {
            text = try readPrivateFile(path)
        } catch let f as Failure {
            if profile == nil && f.description.hasPrefix("cannot open") {
                throw Failure(description: "no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE (\(f.description))")
            }
            throw f
        }
        let sections = parseINI(text)
        guard let section = sections[name] else {
            throw Failure(description: "profile \(name) is not in credentials file \(path)")
        }
        guard let id = section["aws_access_key_id"], !id.isEmpty,
              let secret = section["aws_secret_access_key"], !secret.isEmpty else {
            throw Failure(description: "profile \(name) of credentials file \(path) has no aws_access_key_id and aws_secret_access_key")
        }
        let token = section["aws_session_token"].flatMap { $0.isEmpty ? nil : $0 }
        return AgentCredentials(accessKeyID: id, secretAccessKey: secret, sessionToken: token,
                                source: "profile \(name) of \(path)")
    }

    /// The file's text; like ssh with a key file (and `owd serve` with its credentials
    /// file), refused when its group or others may read or write it.
    static func readPrivateFile(_ path: String) throws -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure(description: "cannot open credentials file \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            throw Failure(description: "credentials file \(path) is not a regular file")
        }
        if st.st_mode & 0o077 != 0 {
            let mode = String(st.st_mode & 0o777, radix: 8)
            throw Failure(description: "permissions 0\(mode) for credentials file '\(path)' are too open: it holds secret keys and must not be accessible by others (chmod 600 \(path)); refused")
        }
        guard st.st_size <= 1 << 20 else { throw Failure(description: "credentials file \(path) is larger than 1 MiB") }
        var bytes = [UInt8](repeating: 0, count: Int(st.st_size))
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            done += n
        }
        return String(decoding: bytes[0..<done], as: UTF8.self)
    }

    /// The shared credentials file's INI: `[name]` sections of `key = value` lines; `#` and
    /// `;` start comments. Keys are lowercased; the last of a repeated key wins. ("\r\n" is
    /// one Character in Swift: lines are split on isNewline.)
    static func parseINI(_ text: String) -> [String: [String: String]] {
        var out: [String: [String: String]] = [:]
        var current: String?
        for raw in text.split(omittingEmptySubsequences: true, whereSeparator: { $0.isNewline }) {
            let line = trim(Substring(raw))
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                var name = trim(line.dropFirst().dropLast())
                if name.hasPrefix("profile ") { name = trim(name.dropFirst(8)) }
                current = String(name)
                if out[String(name)] == nil { out[String(name)] = [:] }
                continue
            }
            guard let current, let eq = line.firstIndex(of: "=") else { continue }
            out[current]![trim(line[..<eq]).lowercased()] = String(trim(line[line.index(after: eq)...]))
        }
        return out
    }

    static func trim(_ s: Substring) -> Substring {
        var t = s
        while let f = t.first, f == " " || f == "\t" { t = t.dropFirst() }
        while let l = t.last, l == " " || l == "\t" { t = t.dropLast() }
        return t
    }
}
