import COwdAgent
#if canImport(Glibc)
import Glibc
#endif

/// How one hook ended.
public struct HookOutcome {
    /// `successful` (exit 0), `failed` (another exit, a signal, killed at the timeout).
    public var status: String
    /// The exit status; 128 + N for a hook ended by signal N (as shells report it).
    public var exitCode: Int?
    public var log: String
    /// For the agent's line: "exit 0", "exit 3", "killed by SIGKILL at the 5 s timeout".
    public var summary: String
    public var seconds: Double
}

/// The output a hook printed, its last `limit` bytes kept (owd serve keeps the last 1 MiB).
struct OutputTail {
    let limit: Int
    private(set) var bytes: [UInt8] = []
    private(set) var total = 0

    init(limit: Int) { self.limit = limit }

    mutating func append(_ chunk: UnsafeRawBufferPointer) {
        total += chunk.count
        bytes.append(contentsOf: chunk)
        // Trimmed in batches: the copy costs once per `limit` bytes, not per chunk.
        if bytes.count > 2 * limit { bytes.removeFirst(bytes.count - limit) }
    }

    mutating func note(_ text: String) {
        if let last = bytes.last, last != 10 { bytes.append(10) }
        bytes += text.utf8
        total += text.utf8.count
    }

    /// The text to send: valid UTF-8 (invalid bytes and NULs become U+FFFD), the cut said.
    func text() -> String {
        var kept = bytes.count > limit ? Array(bytes[(bytes.count - limit)...]) : bytes
        for i in kept.indices where kept[i] == 0 { kept[i] = 0x3F }
        var head = ""
        if total > kept.count { head = "owd agent: \(total - kept.count) bytes of output cut; the last \(kept.count) follow\n" }
        return head + String(decoding: kept, as: UTF8.self)
    }
}

func now() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}

func signalName(_ s: Int32) -> String {
    switch s {
    case SIGTERM: return "SIGTERM"
    case SIGKILL: return "SIGKILL"
    case SIGINT: return "SIGINT"
    case SIGSEGV: return "SIGSEGV"
    case SIGABRT: return "SIGABRT"
    case SIGHUP: return "SIGHUP"
    case SIGPIPE: return "SIGPIPE"
    case SIGQUIT: return "SIGQUIT"
    default: return "signal \(s)"
    }
}

/// Runs one hook to its end: its own process group, so the timeout's SIGTERM (then SIGKILL
/// after `grace` seconds) reaches every process it started.
struct HookRun {
    var path: String
    var environment: [String]
    var directory: String
    var timeout: Double
    var grace: Double
    /// What the server keeps (1 MiB), less room for the line saying what was cut.
    var logLimit = (1 << 20) - 128
    /// Polled while the hook runs: true makes the agent end it now (a second SIGTERM).
    var urgent: () -> Bool = { false }
    /// Called once the hook runs, with its pid (its process group's id).
    var started: (pid_t) -> Void = { _ in }

    func run() -> HookOutcome {
        let started = now()
        var pid: pid_t = 0
        var fd: Int32 = -1
        var err = [CChar](repeating: 0, count: 256)
        var output = OutputTail(limit: logLimit)
        let rc = withCStrings(environment) { env -> Int32 in
            var list: [UnsafeMutablePointer<CChar>?] = env.map { UnsafeMutablePointer(mutating: $0) }
            list.append(nil)
            return owda_spawn(path, list, directory, &pid, &fd, &err, err.count)
        }
        if rc != 0 {
            let reason = String(cString: err)
            output.note("owd agent: cannot start \(path): \(reason)")
            return HookOutcome(status: "failed", exitCode: 126, log: output.text(), summary: "cannot start: \(reason)",
                               seconds: now() - started)
        }
        defer { close(fd) }
        self.started(pid)
        let deadline = started + timeout
        var status: Int32 = 0
        var exited = false, eof = false
        var exitedAt = 0.0
        var termAt: Double? = nil, killed = false, whyKilled = ""
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            if !eof {
                var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                _ = poll(&p, 1, 100)
                while true {
                    let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                    if n > 0 { buffer.withUnsafeBytes { output.append(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }; continue }
                    if n == 0 { eof = true }
                    else if errno == EINTR { continue }
                    break
                }
            } else if !exited {
                usleep(10_000)
            }
            if !exited, waitpid(pid, &status, WNOHANG) == pid {
                exited = true
                exitedAt = now()
            }
            let t = now()
            if termAt == nil && !(exited && eof) && (t >= deadline || urgent()) && !exited {
                whyKilled = t >= deadline ? "at the \(HookRun.seconds(timeout)) timeout" : "as the agent was stopped twice"
                killpg(pid, SIGTERM)
                termAt = t
            }
            if let termAt, !killed, t - termAt >= grace {
                // Also when the hook itself has exited: what it started may hold the pipe.
                killpg(pid, SIGKILL)
                killed = true
            }
            if exited {
                if eof { break }
                // A process the hook left running (in the background) holds the pipe: the
                // hook is done, what it started is not waited for (unless it was killed).
                if termAt == nil && t - exitedAt > 1 { break }
                if killed && t - exitedAt > 1 { break }
            }
        }
        let seconds = now() - started
        var outcome = HookOutcome(status: "failed", exitCode: nil, log: "", summary: "", seconds: seconds)
        var ending: String
        if status & 0x7f == 0 {
            let code = Int((status >> 8) & 0xff)
            outcome.exitCode = code
            ending = "exit \(code)"
            if code == 0 && termAt == nil { outcome.status = "successful" }
        } else {
            let sig = status & 0x7f
            outcome.exitCode = 128 + Int(sig)
            ending = "killed by \(signalName(sig))"
        }
        if termAt != nil {
            output.note("owd agent: the hook was stopped \(whyKilled): SIGTERM to its process group\(killed ? ", SIGKILL \(HookRun.seconds(grace)) later" : "") (\(ending))")
            ending += " \(whyKilled)"
        }
        outcome.summary = ending
        outcome.log = output.text()
        return outcome
    }

    static func seconds(_ s: Double) -> String {
        s == s.rounded() ? "\(Int(s)) s" : "\(s) s"
    }
}

/// A process's start time (clock ticks since boot, /proc/PID/stat field 22): with the pid,
/// it names one process, never a later one that got the same pid.
func processStart(_ pid: pid_t) -> UInt64? {
    let fd = open("/proc/\(pid)/stat", O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var buffer = [UInt8](repeating: 0, count: 1024)
    let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
    guard n > 0 else { return nil }
    // The command name (field 2) is in parentheses and may hold spaces: count after the last ')'.
    guard let close = buffer[0..<n].lastIndex(of: UInt8(ascii: ")")) else { return nil }
    let fields = buffer[(close + 1)..<n].split(separator: UInt8(ascii: " "))
    // fields[0] is field 3 (state): field 22 is fields[19].
    guard fields.count > 19 else { return nil }
    return UInt64(String(decoding: fields[19], as: UTF8.self))
}
