import CJansson
import COwdModel
#if canImport(Glibc)
import Glibc
#endif

/// The OpsWorks model embedded in the program (botocore 1.39.17's files, model/), with
/// owd's own operations merged in when installed.
public enum Model {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    static func bytes(_ which: Int32) -> UnsafeRawBufferPointer {
        var n = 0
        let p = owdm_file(which, &n)
        return UnsafeRawBufferPointer(start: p, count: n)
    }

    static func load(_ which: Int32) throws -> UnsafeMutablePointer<json_t> {
        let b = bytes(which)
        var e = json_error_t()
        guard let j = json_loadb(b.baseAddress?.assumingMemoryBound(to: CChar.self), b.count, 0, &e) else {
            throw Failure(description: "the embedded model file \(which) is not JSON (line \(e.line))")
        }
        return j
    }

    /// Every operation of AWS's OpsWorks model, by name.
    public static let awsOperations: [String] = {
        guard let service = try? load(Int32(OWDM_SERVICE)) else { return [] }
        defer { cjansson_decref(service) }
        return keys(json_object_get(service, "operations"))
    }()

    static func keys(_ object: UnsafeMutablePointer<json_t>?) -> [String] {
        var out: [String] = []
        var it = json_object_iter(object)
        while let i = it {
            out.append(String(cString: json_object_iter_key(i)))
            it = json_object_iter_next(object, i)
        }
        return out
    }

    /// service-2.json with the extras merged in as botocore's loader merges a
    /// service-2.sdk-extras.json, as text.
    public static func mergedService() throws -> [UInt8] {
        let service = try load(Int32(OWDM_SERVICE))
        defer { cjansson_decref(service) }
        let extras = try load(Int32(OWDM_EXTRAS))
        defer { cjansson_decref(extras) }
        // botocore's merge_dicts: objects merged key by key, all the way down; other values replaced.
        guard let merge = json_object_get(extras, "merge"), json_object_update_recursive(service, merge) == 0 else {
            throw Failure(description: "the embedded model extras cannot be merged")
        }
        guard let text = json_dumps(service, 1 | Int(JSON_PRESERVE_ORDER)) else { throw Failure(description: "out of memory") }
        defer { free(text) }
        return Array(UnsafeRawBufferPointer(start: text, count: strlen(text))) + [10]
    }

    /// Writes DIR/opsworks/2013-02-18/{service-2,waiters-2,paginators-1}.json; each file is
    /// written whole to a temporary name, then renamed. The paths written, in order.
    @discardableResult
    public static func install(into dir: String) throws -> [String] {
        let folder = dir + "/opsworks/2013-02-18"
        try makeDirectories(folder)
        let files: [(String, [UInt8])] = [
            ("service-2.json", try mergedService()),
            ("waiters-2.json", Array(bytes(Int32(OWDM_WAITERS)))),
            ("paginators-1.json", Array(bytes(Int32(OWDM_PAGINATORS)))),
        ]
        var written: [String] = []
        for (name, data) in files {
            let path = folder + "/" + name
            try write(data, to: path)
            written.append(path)
        }
        return written
    }

    static func makeDirectories(_ path: String) throws {
        var partial = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            partial += "/" + part
            if mkdir(partial, 0o755) != 0 && errno != EEXIST {
                throw Failure(description: "cannot create \(partial): \(String(cString: strerror(errno)))")
            }
        }
    }

    static func write(_ data: [UInt8], to path: String) throws {
        let tmp = path + ".tmp-\(getpid())"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Failure(description: "cannot write \(tmp): \(String(cString: strerror(errno)))") }
        var done = 0
        while done < data.count {
            let n = data.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 {
                let reason = String(cString: strerror(errno))
                close(fd); unlink(tmp)
                throw Failure(description: "cannot write \(tmp): \(reason)")
            }
            done += n
        }
        guard close(fd) == 0, rename(tmp, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(tmp)
            throw Failure(description: "cannot write \(path): \(reason)")
        }
    }
}
