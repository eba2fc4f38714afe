/// Every failure owd reports. The first three and `unsupportedOperation` are AWS's error
/// codes (answered on the wire as AWS would); the others are library-level failures that
/// AWS never had. Each maps one-to-one to an `owd_error_code`.
public enum OwdError: Error, Equatable, Sendable {
    case validation(String)
    case notFound(String)
    case accessDenied(String)
    case invalidArgument(String)
    case unknownOperation(String)
    /// An operation of AWS's model that owd does not serve (it manages no AWS resources).
    case unsupportedOperation(String)
    case busy(String)
    case store(String)
    case outOfMemory
    case `internal`(String)

    /// The `owd_error_code` of the C ABI.
    public var code: Int32 {
        switch self {
        case .validation: return -1
        case .notFound: return -2
        case .accessDenied: return -3
        case .invalidArgument, .unknownOperation: return -4
        case .busy: return -5
        case .store: return -6
        case .outOfMemory: return -7
        case .internal: return -8
        case .unsupportedOperation: return -9
        }
    }

    /// The error code as AWS (or owd, for its own failures) spells it.
    public var type: String {
        switch self {
        case .validation: return "ValidationException"
        case .notFound: return "ResourceNotFoundException"
        case .accessDenied: return "AccessDeniedException"
        case .invalidArgument: return "InvalidArgument"
        case .unknownOperation: return "UnknownOperationException"
        case .unsupportedOperation: return "UnsupportedOperationException"
        case .busy: return "StoreBusy"
        case .store: return "StoreError"
        case .outOfMemory: return "OutOfMemory"
        case .internal: return "InternalError"
        }
    }

    public var message: String {
        switch self {
        case .validation(let m), .notFound(let m), .accessDenied(let m), .invalidArgument(let m),
             .unknownOperation(let m), .unsupportedOperation(let m), .busy(let m), .store(let m), .internal(let m):
            return m
        case .outOfMemory:
            return "out of memory"
        }
    }
}

/// The kinds of resource named in not-found messages.
enum Resource: String {
    case stack, app, layer, instance, deployment, command

    func notFound(_ id: String) -> OwdError {
        .notFound("Unable to find \(rawValue) with ID \(id)")
    }
}
