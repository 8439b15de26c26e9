// The Exec, Attach and PortForward rpcs: validate, register a one-time token, answer the URL. The
// streams themselves run when the client comes to the streaming server (server.ts).
import type { Duplex } from 'node:stream';
import type { DockerClient } from '../docker/client.js';
import type { ContainerIndex } from '../docker/container-index.js';
import { TYPE_CONTAINER, TYPE_SANDBOX } from '../docker/naming.js';
import { Code, CriError, invalidArgument } from '../errors.js';
import type { runtime } from '../gen/api.js';
import type { Logger } from '../log.js';
import { forwardPort } from './port-forward.js';
import type { CommandResult } from './protocol.js';
import { runAttach, runExec, type ClientStreams } from './remote-command.js';
import type { StreamingBackend, StreamingServer } from './server.js';
import type { StreamRequest, TokenRegistry } from './tokens.js';

/** kubelet's rules for the streams of Exec and Attach. */
function checkStreams(rpc: string, r: { stdin?: boolean | null; stdout?: boolean | null; stderr?: boolean | null; tty?: boolean | null }): void {
  if (!r.stdin && !r.stdout && !r.stderr) throw invalidArgument(`${rpc}: one of stdin, stdout or stderr must be requested`);
  if (r.tty && r.stderr) throw invalidArgument(`${rpc}: tty and stderr cannot both be requested (a terminal has one output stream)`);
}

export class StreamingService implements StreamingBackend {
  constructor(
    private readonly docker: DockerClient,
    private readonly index: ContainerIndex,
    private readonly tokens: TokenRegistry,
    private readonly server: () => StreamingServer,
    private readonly log: Logger,
  ) {}

  private async runningContainer(id: string | null | undefined, rpc: string): Promise<string> {
    const c = await this.index.mustFind(id, TYPE_CONTAINER, rpc);
    if (c.State?.Status !== 'running') throw new CriError(Code.FAILED_PRECONDITION, `${rpc}: container ${c.Id} is not running (${c.State?.Status ?? 'unknown'})`);
    return c.Id;
  }

  private issue(request: StreamRequest): { url: string } {
    return { url: this.server().url(request.kind, this.tokens.issue(request)) };
  }

  async Exec(r: runtime.v1.ExecRequest): Promise<runtime.v1.IExecResponse> {
    const dockerId = await this.runningContainer(r.containerId, 'Exec');
    const cmd = r.cmd ?? [];
    if (cmd.length === 0) throw invalidArgument('Exec: cmd is required');
    checkStreams('Exec', r);
    return this.issue({ kind: 'exec', dockerId, cmd: [...cmd], tty: !!r.tty, stdin: !!r.stdin, stdout: !!r.stdout, stderr: !!r.stderr });
  }

  async Attach(r: runtime.v1.AttachRequest): Promise<runtime.v1.IAttachResponse> {
    const dockerId = await this.runningContainer(r.containerId, 'Attach');
    checkStreams('Attach', r);
    // the stream's framing follows the container: raw with a TTY, multiplexed without
    const tty = this.index.get(dockerId)?.Config?.Tty ?? !!r.tty;
    return this.issue({ kind: 'attach', dockerId, tty, stdin: !!r.stdin, stdout: !!r.stdout, stderr: !!r.stderr && !tty });
  }

  async PortForward(r: runtime.v1.PortForwardRequest): Promise<runtime.v1.IPortForwardResponse> {
    const s = await this.index.mustFind(r.podSandboxId, TYPE_SANDBOX, 'PortForward');
    const ports = (r.port ?? []).map(Number);
    const bad = ports.find((p) => !Number.isInteger(p) || p <= 0 || p > 65535);
    if (bad !== undefined) throw invalidArgument(`PortForward: port ${bad} is not in 1-65535`);
    return this.issue({ kind: 'portforward', sandboxDockerId: s.Id, ports });
  }

  exec(req: Extract<StreamRequest, { kind: 'exec' }>, io: ClientStreams): Promise<CommandResult> {
    return runExec(this.docker, req, io, this.log);
  }

  attach(req: Extract<StreamRequest, { kind: 'attach' }>, io: ClientStreams): Promise<CommandResult> {
    return runAttach(this.docker, req, io, this.log);
  }

  async portForward(sandboxDockerId: string, port: number, stream: Duplex, signal: AbortSignal): Promise<void> {
    const sandbox = this.index.get(sandboxDockerId);
    const pid = sandbox?.State?.Pid ?? 0;
    if (!sandbox?.State?.Running || pid <= 0) throw new Error(`pod sandbox ${sandboxDockerId} is not running`);
    await forwardPort(pid, port, stream, signal);
  }
}
