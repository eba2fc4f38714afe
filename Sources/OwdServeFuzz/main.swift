// The fuzz target for owd serve's request path above the HTTP library (headers, auth,
// body): Endpoint.handle, the SigV4 verifier, the JSON parse and the store's call.
//
// Built by `make fuzz-serve` with -sanitize=fuzzer,address (the same build as fuzz/'s
// targets, plus a linker flag that keeps libFuzzer's LLVMFuzzerRunDriver): libFuzzer's
// driver runs `one` on every input. Built plainly (swift build), the program replays the
// files it is given.
//
// Input: a flags byte, then header lines "Name: value\n" up to an empty line, then the
// body. Flags: bits 0-1 sign the request as nobody / the owner / a show user / a wrong
// key (so that mutations reach past the signature check); bits 2-3 the method (POST,
// GET, PUT, HEAD); bits 4-5 the path (/, /health, /x, empty); bit 6 refused by the HTTP
// layer (413 or 431 by bit 7). "$STACK" in the body stands for a stack of the fixture.
//
// Invariants (a violation traps, which libFuzzer reports as a crash): the status is one
// of section 13's (never 5xx from an in-memory store); a JSON answer is an object, an
// error exactly {"__type", "message"} with __type equal to X-Amzn-ErrorType and a message;
// a request id on every answer; no secret in any answer.
import CJansson
import OwdCore
import OwdServer
#if canImport(Glibc)
import Glibc
#endif

let clockNow: Int64 = 1_440_938_160
let owner = Credential(accessKeyID: "AKIDFUZZOWNER", secretAccessKey: "fuzz-owner-SECRET-0123456789", iamUserArn: nil)
let show = Credential(accessKeyID: "AKIDFUZZSHOW", secretAccessKey: "fuzz-show-SECRET-0123456789",
                      iamUserArn: "arn:aws:iam::123456789012:user/show")
// OWD_SERVE_STORE: a store file instead of memory (the profiling aid's real-store case).
let store = try! Store(path: getenv("OWD_SERVE_STORE").map { String(cString: $0) })
let stackID: String = {
    let text = try! store.call("CreateStack", json: #"{"Name":"f","Region":"us-east-1","ServiceRoleArn":"arn:aws:iam::1:role/r","DefaultInstanceProfileArn":"arn:aws:iam::1:instance-profile/p"}"#)
    _ = try! store.call("CreateUserProfile", json: #"{"IamUserArn":"arn:aws:iam::123456789012:user/show"}"#)
    let id = String(text.split(separator: "\"")[3])
    _ = try! store.call("SetPermission", json: #"{"StackId":"\#(id)","IamUserArn":"arn:aws:iam::123456789012:user/show","Level":"show"}"#)
    return id
}()
let verifier = SigV4Verifier(region: "us-east-1", credentials: [owner, show], clock: { clockNow })
let endpoint = Endpoint(store: store, verifier: verifier)

func check(_ ok: Bool, _ what: String) {
    if !ok {
        fputs("owd-serve-fuzz: invariant broken: \(what)\n", stderr)
        abort()
    }
}

func one(_ data: UnsafeRawBufferPointer) {
    guard let flags = data.first else { return }
    let rest = UnsafeRawBufferPointer(rebasing: data[1...])
    var headers: [(String, String)] = []
    var i = 0
    var bodyStart = rest.count
    while i < rest.count {
        var j = i
        while j < rest.count && rest[j] != 10 { j += 1 }
        let line = UnsafeRawBufferPointer(rebasing: rest[i..<j])
        i = j + 1
        if line.isEmpty { bodyStart = min(i, rest.count); break }
        if let colon = line.firstIndex(of: UInt8(ascii: ":")) {
            let name = String(decoding: line[..<colon], as: UTF8.self)
            var v = line[(colon + 1)...]
            while v.first == 32 { v = v.dropFirst() }
            headers.append((name, String(decoding: v, as: UTF8.self)))
        }
        if i >= rest.count { bodyStart = rest.count }
    }
    var body = Array(rest[bodyStart...])
    if let r = body.firstRange(of: Array("$STACK".utf8)) { body.replaceSubrange(r, with: Array(stackID.utf8)) }
    let method = ["POST", "GET", "PUT", "HEAD"][Int(flags >> 2 & 3)]
    let path = ["/", "/health", "/x", ""][Int(flags >> 4 & 3)]
    let signer: Credential? = [nil, owner, show, Credential(accessKeyID: "AKIDFUZZOWNER", secretAccessKey: "wrong", iamUserArn: nil)][Int(flags & 3)]
    if let signer {
        headers.removeAll { $0.0.lowercased() == "authorization" || $0.0.lowercased() == "x-amz-date" }
        let date = SigV4Verifier.amzDate(clockNow)
        headers.append(("X-Amz-Date", date))
        if !headers.contains(where: { $0.0.lowercased() == "host" }) { headers.append(("Host", "127.0.0.1")) }
        var names = Array(Set(headers.map { $0.0.lowercased() })).sorted()
        names.removeAll { $0.isEmpty || $0.contains(";") || $0.contains(",") || $0.contains(" ") }
        let creq = body.withUnsafeBytes {
            SigV4Verifier.canonicalRequest(SignedRequest(method: method, path: path, headers: headers, body: $0), signedHeaders: names)
        }
        let scope = "20150830/us-east-1/opsworks/aws4_request"
        let sts = SigV4Verifier.stringToSign(amzDate: date, scope: scope, canonicalRequest: creq)
        let key = SigV4Verifier.signingKey(secret: signer.secretAccessKey, day: "20150830", region: "us-east-1", service: "opsworks")
        headers.append(("Authorization", "AWS4-HMAC-SHA256 Credential=\(signer.accessKeyID)/\(scope), SignedHeaders=\(names.joined(separator: ";")), Signature=\(SigV4Verifier.signature(key: key, stringToSign: sts))"))
    }
    let refused: UInt32 = flags & 64 == 0 ? 0 : (flags & 128 == 0 ? 413 : 431)
    var r = body.withUnsafeBytes {
        endpoint.handle(HTTPRequest(method: method, path: path, headers: headers, body: $0, refused: refused))
    }
    defer { r.release() }
    check([200, 400, 403, 404, 405, 413, 431].contains(r.status), "status \(r.status): \(r.text)")
    check(r.requestID.utf8.count == 36, "request id")
    check(r.body != nil, "no body")
    let text = r.text
    for secret in [owner.secretAccessKey, show.secretAccessKey] { check(!text.contains(secret), "a secret in the answer") }
    if r.json {
        var e = json_error_t()
        let parsed = json_loadb(r.body, r.count, 0, &e)
        check(parsed != nil && cjansson_typeof(parsed) == Int32(JSON_OBJECT.rawValue), "answer not a JSON object: \(text)")
        if r.status != 200 {
            check(json_object_size(parsed) == 2, "error members")
            let type = json_string_value(json_object_get(parsed, "__type")).map { String(cString: $0) }
            let message = json_string_value(json_object_get(parsed, "message")).map { String(cString: $0) } ?? ""
            check(type != nil && type == r.errorType, "__type \(String(describing: type)) vs X-Amzn-ErrorType \(String(describing: r.errorType))")
            check(!message.isEmpty, "empty message")
        } else {
            check(r.errorType == nil, "error type on a 200")
        }
        cjansson_decref(parsed)
    }
}

/// libFuzzer's per-input callback by its usual name too (its driver refers to it).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    one(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

/// libFuzzer's entry when the build linked it in (found at run time, so that one source
/// and one set of compiler flags serve both builds).
typealias RunDriver = @convention(c) (UnsafeMutablePointer<Int32>,
                                      UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                                      @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Int32

if let driver = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "LLVMFuzzerRunDriver"), getenv("OWD_SERVE_REPLAY") == nil {
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    exit(unsafeBitCast(driver, to: RunDriver.self)(&argc, &argv) { data, size in
        one(UnsafeRawBufferPointer(start: data, count: size))
        return 0
    })
}
var count = 0
for path in CommandLine.arguments.dropFirst() {
    guard let f = fopen(path, "rb") else { fputs("owd-serve-fuzz: cannot open \(path)\n", stderr); exit(1) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = fread(&buffer, 1, buffer.count, f)
        if n <= 0 { break }
        bytes += buffer[0..<n]
    }
    fclose(f)
    // OWD_SERVE_REPEAT=N: each input N times, with the time per call (a profiling aid).
    let repeats = getenv("OWD_SERVE_REPEAT").map { max(1, atoi($0)) } ?? 1
    var t0 = timespec(), t1 = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t0)
    for _ in 0..<repeats { bytes.withUnsafeBytes { one($0) } }
    clock_gettime(CLOCK_MONOTONIC, &t1)
    if repeats > 1 {
        let us = (Double(t1.tv_sec - t0.tv_sec) * 1e9 + Double(t1.tv_nsec - t0.tv_nsec)) / 1e3 / Double(repeats)
        print("\(path): \(us) µs per call")
    }
    count += 1
}
print("owd-serve-fuzz: \(count) inputs replayed, every invariant held")
