// The C ABI of include/owd.h: one @c @implementation per header function, converting and
// checking arguments and mapping errors. Every rule lives in OwdCore.
import CJansson
import COwd
import OwdCore
#if canImport(Glibc)
import Glibc
#endif

// MARK: Errors

/// The header's code for an error.
func code(_ e: OwdError) -> Int32 {
    let c: owd_error_code
    switch e {
    case .validation: c = OWD_EVALIDATION
    case .notFound: c = OWD_ENOTFOUND
    case .accessDenied: c = OWD_EACCESS
    case .invalidArgument, .unknownOperation: c = OWD_EINVAL
    case .busy: c = OWD_EBUSY
    case .store: c = OWD_ESTORE
    case .outOfMemory: c = OWD_ENOMEM
    case .internal: c = OWD_EINTERNAL
    case .unsupportedOperation: c = OWD_EUNSUPPORTED
    }
    return c.rawValue
}

/// Records `error` as the thread's last error and returns its code.
@inline(never)
func fail(_ error: Error) -> Int32 {
    let e = (error as? OwdError) ?? .internal("\(error)")
    let c = code(e)
    var message = e.message
    message.withUTF8 { m in
        m.withMemoryRebound(to: CChar.self) { owdi_error_set(c, e.type, $0.baseAddress, $0.count) }
    }
    return c
}

/// Runs `body`, returning 0 or the failure's code.
@inline(__always)
func guarded(_ body: () throws -> Void) -> Int32 {
    owdi_error_clear()
    do {
        try body()
        return OWD_OK.rawValue
    } catch {
        return fail(error)
    }
}

/// A C string argument: nil stays nil; text that is not UTF-8 is refused.
func text(_ p: UnsafePointer<CChar>?, _ name: String) throws -> String? {
    guard let p else { return nil }
    let length = strnlen(p, Limits.string + 1)
    if length > Limits.string {
        throw OwdError.validation("\(name) is longer than \(Limits.string) bytes")
    }
    guard let s = String(validatingCString: p) else {
        throw OwdError.validation("\(name) is not valid UTF-8 text")
    }
    return s
}

/// A C string that is an argument of the library rather than a member of an AWS request
/// (a path, an operation name, the caller's ARN): text that is not UTF-8 or too long is a
/// bad argument (OWD_EINVAL, as the header documents), not a ValidationException.
func argument(_ p: UnsafePointer<CChar>?, _ name: String) throws -> String? {
    do {
        return try text(p, name)
    } catch OwdError.validation(let message) {
        throw OwdError.invalidArgument(message)
    }
}

func required<T>(_ p: T?, _ name: String) throws -> T {
    guard let p else { throw OwdError.invalidArgument("\(name) must not be NULL") }
    return p
}

@c @implementation
public func owd_error_last() -> UnsafePointer<owd_error>? {
    owdi_error_get()
}

@c @implementation
public func owd_strerror(_ code: Int32) -> UnsafePointer<CChar>? {
    let s: StaticString
    switch code {
    case OWD_OK.rawValue: s = "success"
    case OWD_EVALIDATION.rawValue: s = "ValidationException: the request is malformed or breaks a rule"
    case OWD_ENOTFOUND.rawValue: s = "ResourceNotFoundException: a named resource does not exist"
    case OWD_EACCESS.rawValue: s = "AccessDeniedException: the caller's permission level does not allow it"
    case OWD_EINVAL.rawValue: s = "invalid argument"
    case OWD_EBUSY.rawValue: s = "the store is busy; nothing was changed, try again"
    case OWD_ESTORE.rawValue: s = "the store cannot be opened, read or written"
    case OWD_ENOMEM.rawValue: s = "out of memory"
    case OWD_EINTERNAL.rawValue: s = "internal error"
    case OWD_EUNSUPPORTED.rawValue: s = "UnsupportedOperationException: an operation of AWS's model that owd does not serve"
    default: s = "unknown error code"
    }
    return UnsafeRawPointer(s.utf8Start).assumingMemoryBound(to: CChar.self)
}

@c @implementation
public func owd_free(_ ptr: UnsafeMutableRawPointer?) {
    free(ptr)
}

@c @implementation
public func owd_json_decref(_ json: UnsafeMutablePointer<json_t>?) {
    cjansson_decref(json)
}

@c @implementation
public func owd_version_number() -> Int32 {
    OWD_VERSION_NUMBER   // the header's: VERSION is written once (tests/version/check.py)
}

@c @implementation
public func owd_version_string() -> UnsafePointer<CChar>? {
    owdi_version_string()
}

// MARK: Stores

/// What an `owd_store *` points at.
final class StoreHandle {
    let store: Store

    init(_ store: Store) { self.store = store }

    static func from(_ p: OpaquePointer?) throws -> Store {
        guard let p else { throw OwdError.invalidArgument("store must not be NULL") }
        return Unmanaged<StoreHandle>.fromOpaque(UnsafeRawPointer(p)).takeUnretainedValue().store
    }

    func retained() -> OpaquePointer {
        OpaquePointer(Unmanaged.passRetained(self).toOpaque())
    }
}

@c @implementation
public func owd_store_options_init(_ opts: UnsafeMutablePointer<owd_store_options>?, _ version: UInt32) -> Int32 {
    guarded {
        let opts = try required(opts, "opts")
        guard version == UInt32(OWD_STORE_OPTIONS_VERSION) else {
            throw OwdError.invalidArgument("unknown owd_store_options version \(version) (this library knows \(OWD_STORE_OPTIONS_VERSION))")
        }
        let defaults = StoreOptions()
        opts.pointee = owd_store_options(version: UInt32(OWD_STORE_OPTIONS_VERSION), iam_user_arn: nil, clock: nil,
                                         clock_context: nil, busy_timeout_ms: defaults.busyTimeoutMs,
                                         durability: OWD_DURABILITY_FULL)
    }
}

@c @implementation
public func owd_store_open(_ out: UnsafeMutablePointer<OpaquePointer?>?,
                           _ path: UnsafePointer<CChar>?,
                           _ options: UnsafePointer<owd_store_options>?) -> Int32 {
    out?.pointee = nil
    return guarded {
        let out = try required(out, "out")
        let path = try argument(path, "path")
        var opts = StoreOptions()
        var caller: String?
        if let o = options?.pointee {
            guard o.version == UInt32(OWD_STORE_OPTIONS_VERSION) else {
                throw OwdError.invalidArgument("unknown owd_store_options version \(o.version) (this library knows \(OWD_STORE_OPTIONS_VERSION))")
            }
            caller = try argument(o.iam_user_arn, "iam_user_arn")
            if let clock = o.clock {
                let context = o.clock_context
                // Any int64_t may come back. Timestamps have four-digit years, a negative
                // time means "not yet" inside the store, and INT64_MIN trapped in the date
                // arithmetic: keep it within 1970-01-01T00:00:00Z ... 9999-12-31T23:59:59Z.
                opts.clock = { min(max(clock(context), Int64(OWD_CLOCK_MIN)), Int64(OWD_CLOCK_MAX)) }
            }
            guard o.busy_timeout_ms >= 0 else { throw OwdError.invalidArgument("busy_timeout_ms must be >= 0") }
            opts.busyTimeoutMs = o.busy_timeout_ms
            // The C enum may hold any int: (owd_durability)-1 arrives as 0xFFFFFFFF.
            switch o.durability {
            case OWD_DURABILITY_FULL: opts.durability = .full
            case OWD_DURABILITY_NORMAL: opts.durability = .normal
            case OWD_DURABILITY_OFF: opts.durability = .off
            default: throw OwdError.invalidArgument("unknown durability \(Int32(truncatingIfNeeded: o.durability.rawValue))")
            }
        }
        let store = try Store(path: path, options: opts, caller: caller)
        out.pointee = StoreHandle(store).retained()
    }
}

@c @implementation
public func owd_store_as(_ out: UnsafeMutablePointer<OpaquePointer?>?, _ store: OpaquePointer?,
                         _ iam_user_arn: UnsafePointer<CChar>?) -> Int32 {
    out?.pointee = nil
    return guarded {
        let out = try required(out, "out")
        let base = try StoreHandle.from(store)
        let caller = try argument(iam_user_arn, "iam_user_arn")
        out.pointee = StoreHandle(base.acting(as: caller)).retained()
    }
}

@c @implementation
public func owd_store_close(_ store: OpaquePointer?) {
    guard let store else { return }
    Unmanaged<StoreHandle>.fromOpaque(UnsafeRawPointer(store)).release()
}

// MARK: Operations

@c @implementation
public func owd_call(_ out: UnsafeMutablePointer<UnsafeMutablePointer<json_t>?>?, _ store: OpaquePointer?,
                     _ operation: UnsafePointer<CChar>?, _ request: UnsafePointer<json_t>?) -> Int32 {
    out?.pointee = nil
    return guarded {
        let out = try required(out, "out")
        let s = try StoreHandle.from(store)
        let op = try required(argument(operation, "operation"), "operation")
        out.pointee = try s.call(op, request)
    }
}

@c @implementation
public func owd_call_json(_ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?, _ store: OpaquePointer?,
                          _ operation: UnsafePointer<CChar>?, _ request: UnsafePointer<CChar>?) -> Int32 {
    out?.pointee = nil
    let code = guarded {
        let out = try required(out, "out")
        let s = try StoreHandle.from(store)
        let op = try required(argument(operation, "operation"), "operation")
        // Bounded: a length past the limit is refused by callJSON before parsing.
        let length = request.map { strnlen($0, Limits.requestText + 1) } ?? 0
        out.pointee = try s.callJSON(op, request.map { UnsafeRawBufferPointer(start: $0, count: length) })
    }
    if code != OWD_OK.rawValue, let out {
        // The AWS JSON 1.1 error body.
        let e = owdi_error_get().pointee
        out.pointee = Store.errorText(type: String(cString: e.type), message: String(cString: e.message))
    }
    return code
}

// MARK: Deployment handles

/// What an `owd_deployment_list *` points at: a retained array of immutable records.
final class DeploymentList {
    let records: ContiguousArray<DeploymentRecord>

    init(_ records: ContiguousArray<DeploymentRecord>) { self.records = records }

    static func from(_ p: OpaquePointer?) -> DeploymentList? {
        guard let p else { return nil }
        return Unmanaged<DeploymentList>.fromOpaque(UnsafeRawPointer(p)).takeUnretainedValue()
    }
}

@inline(__always)
func record(_ d: OpaquePointer?) -> DeploymentRecord? {
    guard let d else { return nil }
    return Unmanaged<DeploymentRecord>.fromOpaque(UnsafeRawPointer(d)).takeUnretainedValue()
}

@c @implementation
public func owd_status_name(_ status: owd_status) -> UnsafePointer<CChar>? {
    guard status.rawValue <= OWD_STATUS_FAILED.rawValue, let s = DeploymentStatus(rawValue: UInt8(status.rawValue)) else { return nil }
    return UnsafeRawPointer(s.name.utf8Start).assumingMemoryBound(to: CChar.self)
}

@c @implementation
public func owd_command_type_name(_ type: owd_command_type) -> UnsafePointer<CChar>? {
    guard type.rawValue <= OWD_COMMAND_UNDEPLOY.rawValue, let c = CommandName(rawValue: UInt8(type.rawValue)) else { return nil }
    return UnsafeRawPointer(c.name.utf8Start).assumingMemoryBound(to: CChar.self)
}

@c @implementation
public func owd_describe_deployments(_ out: UnsafeMutablePointer<OpaquePointer?>?, _ store: OpaquePointer?,
                                     _ stack_id: UnsafePointer<CChar>?, _ app_id: UnsafePointer<CChar>?,
                                     _ deployment_ids: UnsafePointer<UnsafePointer<CChar>?>?,
                                     _ deployment_id_count: Int) -> Int32 {
    out?.pointee = nil
    return guarded {
        let out = try required(out, "out")
        let s = try StoreHandle.from(store)
        let stack = try text(stack_id, "stack_id")
        let app = try text(app_id, "app_id")
        var ids: [String]?
        if let deployment_ids {
            // size_t arrives as Int: SIZE_MAX would be -1 and trap in the range below.
            let count = UInt(bitPattern: deployment_id_count)
            if count > UInt(Limits.list) {
                throw OwdError.validation("Parameter DeploymentIds has \(count) entries; the maximum is \(Limits.list)")
            }
            var list: [String] = []
            list.reserveCapacity(deployment_id_count)
            for i in 0..<deployment_id_count {
                guard let p = deployment_ids[i] else {
                    throw OwdError.invalidArgument("deployment_ids[\(i)] must not be NULL")
                }
                list.append(try text(p, "DeploymentIds[\(i)]")!)
            }
            ids = list
        } else if deployment_id_count != 0 {
            throw OwdError.invalidArgument("deployment_ids is NULL but deployment_id_count is \(deployment_id_count)")
        }
        let records = try s.describeDeployments(stackID: stack, appID: app, deploymentIDs: ids)
        out.pointee = OpaquePointer(Unmanaged.passRetained(DeploymentList(records)).toOpaque())
    }
}

@c @implementation
public func owd_deployment_list_count(_ list: OpaquePointer?) -> Int {
    DeploymentList.from(list)?.records.count ?? 0
}

@c @implementation
public func owd_deployment_list_get(_ list: OpaquePointer?, _ index: Int) -> OpaquePointer? {
    guard let l = DeploymentList.from(list), index >= 0, index < l.records.count else { return nil }
    return OpaquePointer(Unmanaged.passUnretained(l.records[index]).toOpaque())
}

@c @implementation
public func owd_deployment_list_to_json(_ list: OpaquePointer?) -> UnsafeMutablePointer<json_t>? {
    guard let l = DeploymentList.from(list) else { return nil }
    return try? Store.deploymentsJSON(l.records)
}

@c @implementation
public func owd_deployment_list_free(_ list: OpaquePointer?) {
    guard let list else { return }
    Unmanaged<DeploymentList>.fromOpaque(UnsafeRawPointer(list)).release()
}

@c @implementation
public func owd_deployment_id(_ d: OpaquePointer?) -> UnsafePointer<CChar>? {
    record(d)?.string(slot: 0)
}

@c @implementation
public func owd_deployment_stack_id(_ d: OpaquePointer?) -> UnsafePointer<CChar>? {
    record(d)?.string(slot: 1)
}

@c @implementation
public func owd_deployment_app_id(_ d: OpaquePointer?) -> UnsafePointer<CChar>? {
    record(d)?.string(slot: 2)
}

@c @implementation
public func owd_deployment_created_at(_ d: OpaquePointer?) -> UnsafePointer<CChar>? {
    record(d)?.string(slot: 3)
}

@c @implementation
public func owd_deployment_completed_at(_ d: OpaquePointer?) -> UnsafePointer<CChar>? {
    record(d)?.string(slot: 4)
}

@c @implementation
public func owd_deployment_duration(_ d: OpaquePointer?) -> Int64 {
    record(d)?.duration ?? -1
}

@c @implementation
public func owd_deployment_iam_user_arn(_ d: OpaquePointer?) -> UnsafePointer<CChar>? {
    record(d)?.string(slot: 5)
}

@c @implementation
public func owd_deployment_comment(_ d: OpaquePointer?) -> UnsafePointer<CChar>? {
    record(d)?.string(slot: 6)
}

@c @implementation
public func owd_deployment_custom_json(_ d: OpaquePointer?) -> UnsafePointer<CChar>? {
    record(d)?.string(slot: 7)
}

@c @implementation
public func owd_deployment_status(_ d: OpaquePointer?) -> owd_status {
    owd_status(rawValue: UInt32(record(d)?.status.rawValue ?? 0))
}

@c @implementation
public func owd_deployment_command_name(_ d: OpaquePointer?) -> owd_command_type {
    owd_command_type(rawValue: UInt32(record(d)?.command.rawValue ?? 0))
}

@c @implementation
public func owd_deployment_command_arg_count(_ d: OpaquePointer?) -> Int {
    record(d)?.argCount ?? 0
}

@c @implementation
public func owd_deployment_command_arg_name(_ d: OpaquePointer?, _ index: Int) -> UnsafePointer<CChar>? {
    record(d)?.argName(index)
}

@c @implementation
public func owd_deployment_command_arg_value_count(_ d: OpaquePointer?, _ index: Int) -> Int {
    record(d)?.argValueCount(index) ?? 0
}

@c @implementation
public func owd_deployment_command_arg_value(_ d: OpaquePointer?, _ index: Int, _ value_index: Int) -> UnsafePointer<CChar>? {
    record(d)?.argValue(index, value_index)
}

@c @implementation
public func owd_deployment_instance_count(_ d: OpaquePointer?) -> Int {
    record(d)?.instanceCount ?? 0
}

@c @implementation
public func owd_deployment_instance_id(_ d: OpaquePointer?, _ index: Int) -> UnsafePointer<CChar>? {
    record(d)?.instanceID(index)
}

@c @implementation
public func owd_deployment_to_json(_ d: OpaquePointer?) -> UnsafeMutablePointer<json_t>? {
    record(d)?.json()
}
