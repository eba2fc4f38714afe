import CJansson

/// Documented maximum sizes. Every string and list of a request is bounded, so no
/// request can make owd allocate without bound.
public enum Limits {
    /// Any string member, in UTF-8 bytes (CustomJson excepted).
    public static let string = 65_536
    /// `CustomJson`, in UTF-8 bytes (AWS's 120 KB).
    public static let customJson = 122_880
    /// `Log` of CompleteCommand, in UTF-8 bytes (the store keeps its last `keptLog`).
    public static let log = 8 * 1024 * 1024
    /// What the store keeps of a command's log: its last 1 MiB (section 14).
    public static let keptLog = 1024 * 1024
    /// Entries of any list member.
    public static let list = 10_000
    /// Entries of any map member (e.g. `Command.Args`, `Attributes`).
    public static let map = 1_000
    /// Nesting of JSON values inside a request (the deepest AWS shape needs 5).
    public static let depth = 16
    /// The whole request text of owd_call_json, in bytes: checked before jansson parses
    /// it, so that no text makes owd (or jansson) allocate without bound.
    public static let requestText = 16 * 1024 * 1024
}

/// The shape of a request member, as the AWS model defines it. A class with plain
/// fields rather than an indirect enum: the table is a process-wide constant, and enum
/// payloads keep tag bits in their pointers, which hides them from leak checkers.
final class Shape {
    enum Kind { case string, integer, boolean, list, map, structure }

    let kind: Kind
    /// string: the maximum length in bytes, and the values of an enum.
    let max: Int
    let values: [String]?
    /// list and map: the shape of an entry.
    let element: Shape?
    /// structure: its members.
    let members: [Member]

    private init(_ kind: Kind, max: Int = 0, values: [String]? = nil, element: Shape? = nil, members: [Member] = []) {
        self.kind = kind
        self.max = max
        self.values = values
        self.element = element
        self.members = members
    }

    static func string(max: Int, values: [String]?) -> Shape { Shape(.string, max: max, values: values) }
    static let integer = Shape(.integer)
    static let boolean = Shape(.boolean)
    static func list(_ element: Shape) -> Shape { Shape(.list, element: element) }
    static func map(_ element: Shape) -> Shape { Shape(.map, element: element) }
    static func structure(_ members: [Member]) -> Shape { Shape(.structure, members: members) }
}

struct Member {
    let name: String
    let shape: Shape
    let required: Bool

    init(_ name: String, _ shape: Shape, required: Bool = false) {
        self.name = name
        self.shape = shape
        self.required = required
    }
}

/// The one table of operation shapes (generated from the AWS model) and the validator
/// that turns a jansson request into a `Value`, once, in the core.
enum OperationShapes {
    static func validate(operation: Operation, request: UnsafePointer<json_t>?) throws -> Value {
        let shape = operation.requestShape
        guard let request else {
            // NULL means {}, and {} is validated like any request: its required members are
            // missing. (Returning an empty value here let UpdateApp, CreateDeployment and
            // every operation with a required member reach a handler that force-unwraps it:
            // a crash of the embedding process, found by fuzz-structured.)
            guard let empty = json_object() else { throw OwdError.outOfMemory }
            defer { cjansson_decref(empty) }
            return try value(empty, shape, path: "", depth: 0)
        }
        if cjansson_typeof(request) != Int32(JSON_OBJECT.rawValue) {
            throw OwdError.validation("The request must be a JSON object, not \(JSON.typeName(request))")
        }
        return try value(request, shape, path: "", depth: 0)
    }

    /// Checks a record of a describe output (`owd import`) against its output shape.
    static func validate(record: UnsafePointer<json_t>, shape name: String) throws {
        guard let shape = outputShapes[name] else { return }
        _ = try value(record, shape, path: "", depth: 0)
    }

    private static func fail(_ path: String, expected: String, _ json: UnsafePointer<json_t>) -> OwdError {
        .validation("Invalid type for parameter \(path), value type: \(JSON.typeName(json)), valid types: \(expected)")
    }

    private static func join(_ path: String, _ name: String) -> String {
        path.isEmpty ? name : path + "." + name
    }

    /// `index`: `json` is entry `index` of the list at `parent`. Its path ("DeploymentIds[3]")
    /// is spelled out only when used (errors, members below it): building it for every entry
    /// of a list of strings cost more than validating the strings.
    private static func value(_ json: UnsafePointer<json_t>, _ shape: Shape, path parent: String, index: Int? = nil,
                              depth: Int) throws -> Value {
        var path: String { index.map { parent + "[" + String($0) + "]" } ?? parent }
        if depth > Limits.depth {
            throw OwdError.validation("Parameter \(path) is nested deeper than \(Limits.depth) levels")
        }
        let type = cjansson_typeof(json)
        switch shape.kind {
        case .string:
            let max = shape.max, values = shape.values
            guard type == Int32(JSON_STRING.rawValue) else { throw fail(path, expected: "string", json) }
            let length = json_string_length(json)
            if length > max {
                throw OwdError.validation("Parameter \(path) is \(length) bytes long; the maximum is \(max)")
            }
            guard let s = JSON.validString(json_string_value(json), length) else {
                throw OwdError.validation("Parameter \(path) is not valid UTF-8 text (or holds a NUL character)")
            }
            if let values, !values.contains(s) {
                throw OwdError.validation("Value '\(s)' at '\(path)' failed to satisfy constraint: Member must satisfy enum value set: [\(values.joined(separator: ", "))]")
            }
            return .string(s)
        case .integer:
            guard type == Int32(JSON_INTEGER.rawValue) else { throw fail(path, expected: "integer", json) }
            let i = Int64(json_integer_value(json))
            guard i >= Int64(Int32.min), i <= Int64(Int32.max) else {
                throw OwdError.validation("Parameter \(path) is \(i); it must be a 32-bit integer")
            }
            return .integer(i)
        case .boolean:
            if type == Int32(JSON_TRUE.rawValue) { return .boolean(true) }
            if type == Int32(JSON_FALSE.rawValue) { return .boolean(false) }
            throw fail(path, expected: "boolean", json)
        case .list:
            guard let element = shape.element else { throw OwdError.internal("a list shape without its element") }
            guard type == Int32(JSON_ARRAY.rawValue) else { throw fail(path, expected: "list", json) }
            let count = json_array_size(json)
            if count > Limits.list {
                throw OwdError.validation("Parameter \(path) has \(count) entries; the maximum is \(Limits.list)")
            }
            var items: [Value] = []
            items.reserveCapacity(count)
            let listPath = path
            for i in 0..<count {
                guard let item = json_array_get(json, i) else { throw OwdError.internal("a list entry vanished") }
                items.append(try value(item, element, path: listPath, index: i, depth: depth + 1))
            }
            return .list(items)
        case .map:
            guard let element = shape.element else { throw OwdError.internal("a map shape without its element") }
            guard type == Int32(JSON_OBJECT.rawValue) else { throw fail(path, expected: "map", json) }
            let count = json_object_size(json)
            if count > Limits.map {
                throw OwdError.validation("Parameter \(path) has \(count) entries; the maximum is \(Limits.map)")
            }
            var members: [(String, Value)] = []
            members.reserveCapacity(count)
            var iter = json_object_iter(UnsafeMutablePointer(mutating: json))
            while let it = iter {
                let key = try keyString(it, path: path)
                guard let v = json_object_iter_value(it), cjansson_typeof(v) != Int32(JSON_NULL.rawValue) else {   // null is absent, as for members
                    iter = json_object_iter_next(UnsafeMutablePointer(mutating: json), it)
                    continue
                }
                members.append((key, try value(v, element, path: path + "." + key, depth: depth + 1)))
                iter = json_object_iter_next(UnsafeMutablePointer(mutating: json), it)
            }
            return .object(members)
        case .structure:
            let shapeMembers = shape.members
            guard type == Int32(JSON_OBJECT.rawValue) else { throw fail(path, expected: "structure", json) }
            // With each member its position in the shape: answered in the shape's order.
            var members: [(Int, String, Value)] = []
            var iter = json_object_iter(UnsafeMutablePointer(mutating: json))
            while let it = iter {
                let key = try keyString(it, path: path)
                guard let position = shapeMembers.firstIndex(where: { $0.name == key }) else {
                    throw OwdError.validation("Unknown parameter in input: \"\(join(path, key))\", must be one of: \(shapeMembers.map(\.name).joined(separator: ", "))")
                }
                let v = json_object_iter_value(it)
                iter = json_object_iter_next(UnsafeMutablePointer(mutating: json), it)
                guard let v, cjansson_typeof(v) != Int32(JSON_NULL.rawValue) else { continue }  // null is absent
                members.append((position, key, try value(v, shapeMembers[position].shape, path: join(path, key), depth: depth + 1)))
            }
            for (position, member) in shapeMembers.enumerated() where member.required {
                if !members.contains(where: { $0.0 == position }) {
                    throw OwdError.validation("Missing required parameter in input: \"\(join(path, member.name))\"")
                }
            }
            // Members in the order the shape defines them: stored and returned predictably.
            members.sort { $0.0 < $1.0 }
            return .object(members.map { ($0.1, $0.2) })
        }
    }

    private static func keyString(_ iter: UnsafeMutableRawPointer, path: String) throws -> String {
        let key = json_object_iter_key(iter)
        let length = json_object_iter_key_len(iter)
        guard let s = JSON.validString(key, length) else {
            throw OwdError.validation("A member name in \(path.isEmpty ? "the request" : path) is not valid UTF-8 text (or holds a NUL character)")
        }
        if length > Limits.string {
            throw OwdError.validation("A member name in \(path.isEmpty ? "the request" : path) is \(length) bytes long; the maximum is \(Limits.string)")
        }
        return s
    }
}
