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
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure(description: "cannot open credentials file \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw Failure(description: "cannot stat credentials file \(path): \(String(cString: strerror(errno)))") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw Failure(description: "credentials file \(path) is not a regular file") }
        if st.st_mode & 0o077 != 0 {
            let mode = String(st.st_mode & 0o777, radix: 8)
            throw Failure(description: "permissions 0\(mode) for credentials file '\(path)' are too open: it holds secret keys and must not be accessible by others (chmod 600 \(path)); refused")
        }
        guard st.st_size <= 16 * 1024 * 1024 else { throw Failure(description: "credentials file \(path) is larger than 16 MiB") }
        var bytes = [UInt8](repeating: 0, count: Int(st.st_size))
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw Failure(description: "cannot read credentials file \(path)") }
            done += n
        }
        return try parse(bytes, source: path)
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
