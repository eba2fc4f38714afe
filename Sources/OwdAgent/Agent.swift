import CJansson
import COwdAgent
import OwdCore
import OwdServer
#if canImport(Glibc)
import Glibc
#endif

/// `owd agent`: the program on an instance that runs its commands (behaviour.md section 14).
/// One thread polls (PollCommands, WaitTimeSeconds 20, also while a hook runs, so the
/// instance never looks connection_lost while the agent lives); one thread runs the
/// commands, one at a time, oldest first, and reports them; one takes the signals.
public final class Agent: @unchecked Sendable {
    public struct Options {
        public var endpoint: Endpoint
        public var stackID: String
        public var hooks: String
        public var stateDir: String
        public var hostname: String
        public var region: String
        public var commandTimeout: Double = 3600
        /// Seconds between the timeout's SIGTERM and its SIGKILL.
        public var killGrace: Double = 10
        public var caFile: String?
        public var insecure = false
        /// Kept connections (one for the polls, one for the reports); false: a new
        /// connection per request.
        public var keepAlive = true
        public var credentials: AgentCredentials
        /// The hooks' environment before the OWD_* variables (the agent's own, without its credentials).
        public var environment: [String]

        public init(endpoint: Endpoint, stackID: String, hooks: String, stateDir: String, hostname: String, region: String,
                    credentials: AgentCredentials, environment: [String]) {
            self.endpoint = endpoint
            self.stackID = stackID
            self.hooks = hooks
            self.stateDir = stateDir
            self.hostname = hostname
            self.region = region
            self.credentials = credentials
            self.environment = environment
        }
    }

    /// A command as PollCommands handed it out.
    struct Command {
        var id: String
        var deployment: String
        var type: String
        var app: String?
        /// The poll's entry as JSON text: the hook's OWD_CONTEXT file (secrets included).
        var context: String
    }

    let options: Options
    let signer: SigV4Signer
    var instanceID = ""

    // Shared by the threads, under `mutex`.
    var mutex = pthread_mutex_t()
    var changed = pthread_cond_t()
    var queue: [Command] = []
    /// Commands handed out by the latest poll, or queued or running and not yet
    /// acknowledged: a poll that returns one of them again does not queue it twice.
    var known = Set<String>()
    var unacknowledged = Set<String>()
    var stopSignal: String?
    var urgent = false
    /// Read by libcurl's progress callback (C): nonzero abandons the waiting poll.
    let stopFlag = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
    /// The polling thread's client, woken by the signal thread.
    var poller: OpsWorksClient?

    public init(_ options: Options) {
        self.options = options
        signer = SigV4Signer(accessKeyID: options.credentials.accessKeyID, secretAccessKey: options.credentials.secretAccessKey,
                             sessionToken: options.credentials.sessionToken, region: options.region)
        pthread_mutex_init(&mutex, nil)
        var attr = pthread_condattr_t()
        pthread_condattr_init(&attr)
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
        pthread_cond_init(&changed, &attr)
        pthread_condattr_destroy(&attr)
        stopFlag.pointee = 0
    }

    // MARK: Logging

    static func log(_ text: String) {
        let line = "\(RequestLog.timestamp(Int64(time(nil)))) owd agent: \(text)\n"
        RequestLog(quiet: false).write(line)
    }

    // MARK: Run

    /// Runs until SIGTERM or SIGINT; the exit status (0 after a signal, 1 when it cannot start).
    public func run() -> Int32 {
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &signals, nil)
        signal(SIGPIPE, SIG_IGN)
        startThread { [self] in self.takeSignals(signals) }

        if options.insecure {
            Agent.log("WARNING: --insecure-skip-verify: the server's TLS certificate is not checked; anyone on the path can read the commands' secrets and send commands")
        }
        let poller: OpsWorksClient
        let reporter: OpsWorksClient
        do {
            try prepareStateDir()
            // Two kept connections: the polls' (a waiting poll is suspended in owd serve and
            // holds none of its threads, so nothing else waits behind it) and the reports',
            // so that a report never queues behind the poll in progress.
            poller = try client(keepAlive: options.keepAlive, stop: stopFlag)
            locked { self.poller = poller }
            reporter = try client(keepAlive: options.keepAlive, stop: nil)
        } catch let f as AgentFailure {
            Agent.log(f.description)
            return 1
        } catch {
            Agent.log("\(error)")
            return 1
        }
        do {
            guard let id = try loadOrRegister(poller) else { return stopped() }
            instanceID = id
        } catch let f as AgentFailure {
            Agent.log(f.description)
            return 1
        } catch {
            return 1
        }
        Agent.log("started: instance \(instanceID) (hostname \(options.hostname)) of stack \(options.stackID), endpoint \(options.endpoint.url), hooks \(options.hooks), credentials from \(options.credentials.source)")
        failInterrupted(poller)
        if stopping { return stopped() }
        print("owd agent: instance \(instanceID) polling \(options.endpoint.url)")
        fflush(stdout)

        let worker = startThread { [self] in self.work(reporter) }
        poll(poller)
        pthread_join(worker, nil)
        return stopped()
    }

    func stopped() -> Int32 {
        Agent.log("\(stopSignalName): stopped")
        return 0
    }

    var stopSignalName: String { locked { stopSignal } ?? "SIGTERM" }

    var stopping: Bool { locked { stopSignal != nil } }

    func client(keepAlive: Bool, stop: UnsafeMutablePointer<Int32>?) throws -> OpsWorksClient {
        try OpsWorksClient(endpoint: options.endpoint, signer: signer, caFile: options.caFile, insecure: options.insecure,
                           keepAlive: keepAlive, stop: stop)
    }

    func takeSignals(_ set: sigset_t) {
        var signals = set
        while true {
            var received: Int32 = 0
            guard sigwait(&signals, &received) == 0 else { continue }
            let name = received == SIGINT ? "SIGINT" : "SIGTERM"
            let first: Bool = locked {
                if stopSignal == nil {
                    stopSignal = name
                    stopFlag.pointee = 1
                    poller?.wake()
                    return true
                }
                urgent = true
                return false
            }
            pthread_cond_broadcast(&changed)
            if first {
                Agent.log("\(name): finishing the running command (if any), then exiting; send it again to stop the hook now")
            } else {
                Agent.log("\(name) again: stopping the running hook now")
            }
        }
    }

    // MARK: State

    var workDir: String { options.stateDir + "/commands" }
    var instanceFile: String { options.stateDir + "/instance.json" }

    /// The state folder (0700) and its work folder, emptied of what a crash left (a context
    /// file holds secrets).
    func prepareStateDir() throws {
        for dir in [options.stateDir, workDir] {
            if mkdir(dir, 0o700) != 0 && errno != EEXIST {
                throw AgentFailure("cannot create the state folder \(dir): \(String(cString: strerror(errno)))")
            }
            var st = stat()
            guard lstat(dir, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else {
                throw AgentFailure("the state folder \(dir) is not a folder")
            }
            if st.st_mode & 0o077 != 0 {
                throw AgentFailure("permissions 0\(String(st.st_mode & 0o777, radix: 8)) for the state folder '\(dir)' are too open: the commands' context files hold secrets (chmod 700 \(dir)); refused")
            }
        }
        guard let d = opendir(workDir) else { return }
        var left: [String] = []
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { left.append(name) }
        }
        closedir(d)
        for name in left where name.hasSuffix(".pid") { stopOrphan(workDir + "/" + name) }
        for name in left { _ = owda_remove_tree(workDir + "/" + name) }
        if !left.isEmpty { Agent.log("removed \(left.count) file(s) an earlier run left in \(workDir)") }
    }

    /// A hook that an agent which died left running: its command is about to be failed, so
    /// its process group is killed (it must not run beside the next command). The file holds
    /// "PID START": the group is the hook's when its leader still has that start time, or,
    /// its leader gone, when the group still exists (Linux gives no new process the ID of
    /// a live process group).
    func stopOrphan(_ file: String) {
        guard let text = try? AgentCredentials.readPrivateFile(file) else { return }
        let parts = text.split(separator: " ").map { $0.split(separator: "\n").first.map(String.init) ?? "" }
        guard parts.count == 2, let pid = pid_t(parts[0]), pid > 1, let start = UInt64(parts[1]) else { return }
        let ours: Bool
        if let now = processStart(pid) { ours = now == start } else { ours = kill(-pid, 0) == 0 }
        if ours && killpg(pid, SIGKILL) == 0 {
            Agent.log("killed process group \(pid): the hook of a command an earlier run left running")
        }
    }

    /// The instance ID of the state folder, or a new one from RegisterInstance (kept before
    /// it is used). nil: stopped before it was known.
    func loadOrRegister(_ client: OpsWorksClient) throws -> String? {
        if let text = try? AgentCredentials.readPrivateFile(instanceFile) {
            guard let j = try? JSON.loads(text) else { throw AgentFailure("\(instanceFile) is not JSON: remove it to register again") }
            defer { cjansson_decref(j) }
            guard let id = J.string(j, "InstanceId"), !id.isEmpty else {
                throw AgentFailure("\(instanceFile) holds no InstanceId: remove it to register again")
            }
            let stack = J.string(j, "StackId")
            if stack != options.stackID {
                throw AgentFailure("the state folder \(options.stateDir) belongs to instance \(id) of stack \(stack ?? "?"), not of stack \(options.stackID): give another --state-dir")
            }
            Agent.log("instance \(id) (from \(instanceFile))")
            return id
        }
        let request = Value.object([("StackId", .string(options.stackID)), ("Hostname", .string(options.hostname))])
        guard let answer = try retrying("RegisterInstance", whileStopping: false, { client.call("RegisterInstance", request) }) else { return nil }
        defer { cjansson_decref(answer) }
        guard let id = J.string(answer, "InstanceId") else { throw AgentFailure("RegisterInstance answered no InstanceId") }
        let record = Value.object([("InstanceId", .string(id)), ("StackId", .string(options.stackID)),
                                   ("Hostname", .string(options.hostname))])
        try writeAtomically(instanceFile, try record.jsonText() + "\n")
        Agent.log("registered instance \(id) (hostname \(options.hostname)), kept in \(instanceFile)")
        return id
    }

    func writeAtomically(_ path: String, _ text: String) throws {
        let tmp = path + ".tmp"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw AgentFailure("cannot write \(tmp): \(String(cString: strerror(errno)))") }
        var ok = writeAll(fd, text)
        ok = ok && fsync(fd) == 0
        close(fd)
        guard ok, rename(tmp, path) == 0 else {
            unlink(tmp)
            throw AgentFailure("cannot write \(path): \(String(cString: strerror(errno)))")
        }
        let dir = open(options.stateDir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dir >= 0 { fsync(dir); close(dir) }
    }

    /// Section 14: after a restart, the instance's acknowledged, still pending commands were
    /// interrupted by the crash; nobody can know how far they ran, so they are failed.
    func failInterrupted(_ client: OpsWorksClient) {
        let request = Value.object([("InstanceId", .string(instanceID))])
        guard let answer = try? retrying("DescribeCommands", whileStopping: false, { client.call("DescribeCommands", request) }) else { return }
        defer { cjansson_decref(answer) }
        for c in J.array(answer, "Commands") {
            guard J.string(c, "Status") == "pending", J.string(c, "AcknowledgedAt") != nil,
                  let id = J.string(c, "CommandId") else { continue }
            let log = "owd agent: the agent stopped (crashed or was killed) while this command ran; it cannot know how far the hook ran, so the command failed.\n"
            let done = Value.object([("CommandId", .string(id)), ("Status", .string("failed")), ("Log", .string(log))])
            switch client.call("CompleteCommand", done) {
            case .success(let j):
                cjansson_decref(j)
                Agent.log("\(J.string(c, "Type") ?? "?") \(J.string(c, "DeploymentId") ?? "?") \(id): failed, interrupted by the agent's restart")
            case .failure(let e):
                Agent.log("cannot fail interrupted command \(id): \(e.description)")
            }
        }
    }

    /// Calls until an answer that is not a transient failure, backing off 1 s, 2 s, ... 30 s
    /// with one line per failure. nil when stopped first; a lasting failure throws.
    func retrying(_ what: String, whileStopping: Bool, _ call: () -> Result<UnsafeMutablePointer<json_t>, CallError>) throws -> UnsafeMutablePointer<json_t>? {
        var delay = 1.0
        var spentStopping = 0.0
        while true {
            if stopping && !whileStopping { return nil }
            switch call() {
            case .success(let j): return j
            case .failure(.aborted): return nil
            case .failure(let e) where e.transient:
                if stopping {
                    spentStopping += delay
                    if spentStopping > 30 { return nil }
                }
                Agent.log("\(what) failed: \(e.description); trying again in \(Int(delay)) s")
                if wait(seconds: delay, untilStopped: !whileStopping) && !whileStopping { return nil }
                delay = min(delay * 2, 30)
            case .failure(let e):
                throw AgentFailure("\(what) failed: \(e.description)")
            }
        }
    }

    // MARK: Polling

    func poll(_ client: OpsWorksClient) {
        let request = Value.object([("InstanceId", .string(instanceID)), ("WaitTimeSeconds", .integer(20))])
        var delay = 1.0
        var failing = false
        while !stopping {
            switch client.call("PollCommands", request, timeout: 45) {
            case .failure(.aborted):
                return
            case .failure(let e):
                Agent.log("PollCommands failed: \(e.description); trying again in \(Int(delay)) s")
                failing = true
                _ = wait(seconds: delay, untilStopped: true)
                delay = min(delay * 2, 30)
            case .success(let answer):
                if failing { Agent.log("PollCommands works again") }
                failing = false
                delay = 1
                let commands = J.array(answer, "Commands").compactMap(Agent.command)
                // Issue 20: over plain HTTP from another machine the server leaves the
                // secrets out (*****FILTERED*****) and says why; the hooks get what came.
                let withheld = J.string(answer, "SecretsWithheld")
                cjansson_decref(answer)
                let fresh: Bool = locked {
                    var added = false
                    for c in commands where !known.contains(c.id) {
                        queue.append(c)
                        unacknowledged.insert(c.id)
                        added = true
                    }
                    known = Set(commands.map(\.id)).union(unacknowledged)
                    return added
                }
                if fresh, let withheld {
                    Agent.log("the server withheld the secrets of these commands (\(commands.count)): \(withheld)")
                }
                if fresh {
                    pthread_cond_broadcast(&changed)
                    // The next poll would answer at once with the same commands until the
                    // worker acknowledges the first: wait for that (or 5 s, to stay seen).
                    let first = commands.first { c in locked { unacknowledged.contains(c.id) } }?.id
                    if let first { waitUntilAcknowledged(first, seconds: 5) }
                } else if !commands.isEmpty {
                    // The server answers at once while a command waits for its turn (one
                    // runs): poll again when the worker takes it, or in 5 s to stay seen.
                    waitForChange(seconds: 5)
                }
            }
        }
    }

    static func command(_ j: UnsafeMutablePointer<json_t>) -> Command? {
        guard let id = J.string(j, "CommandId"), let type = J.string(j, "Type"),
              let context = try? JSON.dumps(j) else { return nil }
        return Command(id: id, deployment: J.string(j, "DeploymentId") ?? "", type: type, app: J.string(j, "AppId"), context: context)
    }

    // MARK: Running

    func work(_ client: OpsWorksClient) {
        while true {
            let next: Command? = locked {
                while queue.isEmpty && stopSignal == nil { pthread_cond_wait(&changed, &mutex) }
                return stopSignal == nil ? queue.removeFirst() : nil
            }
            guard let command = next else { return }
            execute(command, client)
        }
    }

    func execute(_ command: Command, _ client: OpsWorksClient) {
        let ack = Value.object([("CommandId", .string(command.id))])
        let acknowledged: UnsafeMutablePointer<json_t>?
        do {
            acknowledged = try retrying("AcknowledgeCommand", whileStopping: false, { client.call("AcknowledgeCommand", ack) })
        } catch {
            Agent.log("\(command.type) \(command.deployment) \(command.id): not run: \(error)")
            settle(command)
            return
        }
        guard let acknowledged else { return }
        cjansson_decref(acknowledged)
        settle(command)

        let started = now()
        let hook = options.hooks + "/" + command.type
        var outcome: HookOutcome
        if !Agent.executable(hook) || command.type.contains("/") || command.type.hasPrefix(".") {
            outcome = HookOutcome(status: "skipped", exitCode: nil, log: "owd agent: no executable hook \(hook): skipped\n",
                                  summary: "no executable \(hook)", seconds: now() - started)
        } else {
            outcome = runHook(hook, command)
        }
        var members: [(String, Value)] = [("CommandId", .string(command.id)), ("Status", .string(outcome.status))]
        if let code = outcome.exitCode { members.append(("ExitCode", .integer(Int64(code)))) }
        members.append(("Log", .string(outcome.log)))
        let done = Value.object(members)
        do {
            guard let answer = try retrying("CompleteCommand", whileStopping: true, { client.call("CompleteCommand", done, timeout: 60) }) else {
                Agent.log("\(command.type) \(command.deployment) \(command.id): \(outcome.status) (\(outcome.summary)) but not reported: the server could not be reached; the next start fails it")
                return
            }
            cjansson_decref(answer)
        } catch {
            Agent.log("\(command.type) \(command.deployment) \(command.id): \(outcome.status) but not reported: \(error)")
            return
        }
        Agent.log("\(command.type) \(command.deployment) \(command.id): \(outcome.status), \(outcome.summary), \(decimal(outcome.seconds)) s")
    }

    /// The command was acknowledged (or will never be): a poll may stop returning it.
    func settle(_ command: Command) {
        _ = locked { unacknowledged.remove(command.id) }
        pthread_cond_broadcast(&changed)
    }

    static func executable(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG && access(path, X_OK) == 0
    }

    /// The hook in a fresh working folder, with its context file; both removed after.
    func runHook(_ hook: String, _ command: Command) -> HookOutcome {
        let safe = command.id.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 45 }
        let name = safe && !command.id.isEmpty ? command.id : "command-\(getpid())-\(Int(now() * 1000))"
        let dir = workDir + "/" + name
        let context = workDir + "/" + name + ".context.json"
        defer {
            unlink(context)
            if owda_remove_tree(dir) != 0 { Agent.log("cannot remove \(dir): \(String(cString: strerror(errno)))") }
        }
        func failed(_ why: String) -> HookOutcome {
            HookOutcome(status: "failed", exitCode: nil, log: "owd agent: \(why)\n", summary: why, seconds: 0)
        }
        guard mkdir(dir, 0o700) == 0 else { return failed("cannot create the working folder \(dir): \(String(cString: strerror(errno)))") }
        let fd = open(context, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return failed("cannot create \(context): \(String(cString: strerror(errno)))") }
        let written = writeAll(fd, command.context)
        close(fd)
        guard written else { return failed("cannot write \(context)") }

        var env = options.environment
        env += ["OWD_COMMAND=\(command.type)", "OWD_COMMAND_ID=\(command.id)", "OWD_DEPLOYMENT_ID=\(command.deployment)",
                "OWD_STACK_ID=\(options.stackID)", "OWD_INSTANCE_ID=\(instanceID)", "OWD_CONTEXT=\(context)"]
        if let app = command.app { env.append("OWD_APP_ID=\(app)") }
        var run = HookRun(path: hook, environment: env, directory: dir, timeout: options.commandTimeout, grace: options.killGrace)
        run.urgent = { [self] in self.locked { self.urgent } }
        let pidFile = workDir + "/" + name + ".pid"
        run.started = { pid in
            // For the next start, should this agent die while the hook runs.
            let fd = open(pidFile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            if fd >= 0 {
                _ = writeAll(fd, "\(pid) \(processStart(pid) ?? 0)\n")
                close(fd)
            }
        }
        defer { unlink(pidFile) }
        return run.run()
    }

    // MARK: Threads

    func locked<R>(_ body: () -> R) -> R {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return body()
    }

    /// Sleeps up to `seconds`; true when the agent was stopped (then at once, if asked).
    @discardableResult
    func wait(seconds: Double, untilStopped: Bool) -> Bool {
        let end = now() + seconds
        return locked {
            while stopSignal == nil || !untilStopped {
                let left = end - now()
                if left <= 0 { break }
                timedWait(left)
            }
            return stopSignal != nil
        }
    }

    /// Sleeps up to `seconds` or until `id` is acknowledged or the agent stops.
    func waitUntilAcknowledged(_ id: String, seconds: Double) {
        let end = now() + seconds
        locked {
            while stopSignal == nil && unacknowledged.contains(id) {
                let left = end - now()
                if left <= 0 { break }
                timedWait(left)
            }
        }
    }

    /// Sleeps up to `seconds` or until the queue changes or the agent stops.
    func waitForChange(seconds: Double) {
        locked {
            if stopSignal == nil { timedWait(seconds) }
        }
    }

    /// With `mutex` held.
    func timedWait(_ seconds: Double) {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        let ns = Int(t.tv_nsec) + Int((seconds - seconds.rounded(.down)) * 1e9)
        t.tv_sec += Int(seconds.rounded(.down)) + ns / 1_000_000_000
        t.tv_nsec = ns % 1_000_000_000
        pthread_cond_timedwait(&changed, &mutex, &t)
    }
}

func writeAll(_ fd: Int32, _ text: String) -> Bool {
    var t = text
    return t.withUTF8 { b in
        var done = 0
        while done < b.count {
            let n = write(fd, b.baseAddress! + done, b.count - done)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            done += n
        }
        return true
    }
}

func decimal(_ v: Double) -> String {
    let ms = Int((v * 1000).rounded())
    let frac = ms % 1000
    return "\(ms / 1000).\(frac < 10 ? "00" : frac < 100 ? "0" : "")\(frac)"
}

final class ThreadBody {
    let body: () -> Void
    init(_ body: @escaping () -> Void) { self.body = body }
}

@discardableResult
func startThread(_ body: @escaping () -> Void) -> pthread_t {
    var thread = pthread_t()
    let box = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
    pthread_create(&thread, nil, { raw in
        let b = Unmanaged<ThreadBody>.fromOpaque(raw!).takeRetainedValue()
        b.body()
        return nil
    }, box)
    return thread
}
