import CJansson
#if canImport(Glibc)
import Glibc
#endif

/// The credentials file of `owd serve --credentials FILE`:
/// `{"Credentials": [{"AccessKeyId": "...", "SecretAccessKey": "...", "IamUserArn": "..."}]}`.
public enum CredentialsFile {
    public struct Failure: Error, CustomStringConvertible, Equatable {
        public let description: String
    }

    /// Reads and checks the file. Like ssh with a key file, a file that its group or others
    /// may read (or write) is refused before its contents are looked at.
    public static func load(path: String) throws -> [Credential] {
        try parse(try SecretFile.read(path: path, kind: "credentials file", holds: "secret keys"), source: path)
    }

    /// The identities in the file's text. Every error names what is wrong and never quotes a secret.
    public static func parse(_ bytes: [UInt8], source: String) throws -> [Credential] {
        var error = json_error_t()
        let root = bytes.withUnsafeBytes { json_loadb($0.baseAddress?.assumingMemoryBound(to: CChar.self), $0.count, Int(JSON_REJECT_DUPLICATES), &error) }
        guard let root else {
            throw Failure(description: "credentials file \(source) is not valid JSON (line \(error.line), column \(error.column))")
        }
        defer { cjansson_decref(root) }
        guard cjansson_typeof(root) == Int32(JSON_OBJECT.rawValue),
              let list = json_object_get(root, "Credentials"), cjansson_typeof(list) == Int32(JSON_ARRAY.rawValue) else {
            throw Failure(description: "credentials file \(source) must be {\"Credentials\": [{\"AccessKeyId\": ..., \"SecretAccessKey\": ..., \"IamUserArn\": ...}]}")
        }
        var out: [Credential] = []
        var seen = Set<String>()
        for i in 0..<json_array_size(list) {
            let item = json_array_get(list, i)
            func string(_ name: String, required: Bool) throws -> String? {
                guard let v = json_object_get(item, name), cjansson_typeof(v) != Int32(JSON_NULL.rawValue) else {
                    if required { throw Failure(description: "credentials file \(source): Credentials[\(i)] has no \(name)") }
                    return nil
                }
                guard cjansson_typeof(v) == Int32(JSON_STRING.rawValue), let s = json_string_value(v),
                      json_string_length(v) > 0 else {
                    throw Failure(description: "credentials file \(source): Credentials[\(i)].\(name) must be a non-empty string")
                }
                return String(cString: s)
            }
            guard cjansson_typeof(item) == Int32(JSON_OBJECT.rawValue) else {
                throw Failure(description: "credentials file \(source): Credentials[\(i)] must be an object")
            }
            var key = json_object_iter(item)
            while let k = key {
                let name = String(cString: json_object_iter_key(k))
                if !["AccessKeyId", "SecretAccessKey", "IamUserArn"].contains(name) {
                    throw Failure(description: "credentials file \(source): Credentials[\(i)] has an unknown member \(name)")
                }
                key = json_object_iter_next(item, k)
            }
            let id = try string("AccessKeyId", required: true)!
            let secret = try string("SecretAccessKey", required: true)!
            let arn = try string("IamUserArn", required: false)
            if let arn, !(arn.hasPrefix("arn:") && arn.split(separator: ":", omittingEmptySubsequences: false).count >= 6) {
                throw Failure(description: "credentials file \(source): Credentials[\(i)].IamUserArn is not an ARN (arn:aws:iam::<account>:user/<name>)")
            }
            guard seen.insert(id).inserted else {
                throw Failure(description: "credentials file \(source): access key \(id) appears twice")
            }
            out.append(Credential(accessKeyID: id, secretAccessKey: secret, iamUserArn: arn))
        }
        guard !out.isEmpty else { throw Failure(description: "credentials file \(source) holds no credentials") }
        return out
    }
}

/// A file that holds secrets (the credentials file, the TLS private key), read the way
/// ssh reads a key file: refused, before its contents are looked at, when its group or
/// others may read or write it, and when it is not a regular file.
public enum SecretFile {
    /// The file's bytes (at most 16 MiB). `kind` names the file in errors ("credentials
    /// file"), `holds` what it holds ("secret keys").
    public static func read(path: String, kind: String, holds: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw CredentialsFile.Failure(description: "cannot open \(kind) \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw CredentialsFile.Failure(description: "cannot stat \(kind) \(path): \(String(cString: strerror(errno)))") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw CredentialsFile.Failure(description: "\(kind) \(path) is not a regular file") }
        if st.st_mode & 0o077 != 0 {
            let mode = String(st.st_mode & 0o777, radix: 8)
            throw CredentialsFile.Failure(description: "permissions 0\(mode) for \(kind) '\(path)' are too open: it holds \(holds) and must not be accessible by others (chmod 600 \(path)); refused")
        }
        return try PublicFile.bytes(fd, path: path, kind: kind, size: Int64(st.st_size))
    }
}

/// A file anyone may read (the TLS certificate).
public enum PublicFile {
    public static func read(path: String, kind: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw CredentialsFile.Failure(description: "cannot open \(kind) \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw CredentialsFile.Failure(description: "cannot stat \(kind) \(path): \(String(cString: strerror(errno)))") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw CredentialsFile.Failure(description: "\(kind) \(path) is not a regular file") }
        return try bytes(fd, path: path, kind: kind, size: Int64(st.st_size))
    }

    static func bytes(_ fd: Int32, path: String, kind: String, size: Int64) throws -> [UInt8] {
        guard size <= 16 * 1024 * 1024 else { throw CredentialsFile.Failure(description: "\(kind) \(path) is larger than 16 MiB") }
        var bytes = [UInt8](repeating: 0, count: Int(size))
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw CredentialsFile.Failure(description: "cannot read \(kind) \(path)") }
            done += n
        }
        return bytes
    }
}
