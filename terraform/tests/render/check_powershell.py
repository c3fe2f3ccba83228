#!/usr/bin/env python3
"""Render test of the Windows user data (there is no pwsh here to parse it).

Usage: check_powershell.py FILE [--ephemeral] [--jit] [--s3]
Checks the structure EC2Launch needs, that no template syntax is left, that quotes,
braces, parentheses and here-strings balance, and that the script reads and deletes
its own token, registers the way the flags say and terminates itself when ephemeral.
If pwsh is installed, its parser has the last word.
"""
import re
import shutil
import subprocess
import sys

path = sys.argv[1]
flags = set(sys.argv[2:])
text = open(path).read()
problems = []


def need(cond, what):
    if not cond:
        problems.append(what)


need(text.startswith("<powershell>\n"), "starts with <powershell>")
need(text.rstrip().endswith("</powershell>\n<persist>false</persist>"), "ends with </powershell><persist>false</persist>")
need(len(text.encode()) <= 16384, f"user data is {len(text.encode())} bytes; EC2 takes 16 KiB")
need("${" not in text and "%{" not in text, "no Terraform template syntax left")
need("\t" not in text, "no tabs")

# Strip here-strings and comments, then balance brackets and quotes line by line.
body = text.split("\n", 1)[1].rsplit("</powershell>", 1)[0]
here = re.findall(r"@'\n.*?\n'@", body, flags=re.S)
need(body.count("@'") == body.count("'@"), "here-strings are closed")
for h in here:
    body = body.replace(h, "''")
code_lines = []
for n, line in enumerate(body.split("\n"), 2):
    stripped = line.split("#", 1)[0] if not re.search(r'"[^"]*#', line) else line
    if stripped.count('"') % 2:
        problems.append(f"line {n}: unbalanced double quote: {line.strip()}")
    code_lines.append(re.sub(r'"[^"]*"', '""', stripped))
code = "\n".join(code_lines)
for o, c in ("{}", "()", "[]"):
    need(code.count(o) == code.count(c), f"balanced {o}{c}: {code.count(o)} vs {code.count(c)}")

need(re.search(r'\$tokenParameter = "/[A-Za-z0-9_-]+/runners/tokens/\$instanceId"', text) is not None,
     "token parameter is /<prefix>/runners/tokens/<own instance id>")
need("Get-SSMParameter -Name $tokenParameter -WithDecryption $true" in text, "reads its token with decryption")
need("Remove-SSMParameter -Name $tokenParameter -Force" in text, "deletes its token")
need(text.index("Get-SSMParameter") < text.index("Remove-SSMParameter"), "reads before deleting")
need("http-tokens" not in text and "X-aws-ec2-metadata-token" in text, "uses IMDSv2 tokens")
need(f'ToBoolean("{"true" if "--ephemeral" in flags else "false"}")' in text.split("$jit")[0], "ephemeral flag rendered")
need(f'$jit = [System.Convert]::ToBoolean("{"true" if "--jit" in flags else "false"}")' in text, "JIT flag rendered")
need(("Read-S3Object" in text) == ("--s3" in flags), "runner from the S3 mirror exactly when configured")
need("--jitconfig $config" in text and "config.cmd" in text, "registers with a JIT config or config.cmd")
need("meta-data/tags/instance/flotilla:owner" in text and '"--token", $config' in text,
     "registration tokens register with the owner from the instance's flotilla:owner tag")
need("Remove-EC2Instance -InstanceId $instanceId" in text, "can terminate itself (only its own instance id)")
need("Write-Output $config" not in text and "Write-Output \"$config" not in text, "never prints the token")

pwsh = shutil.which("pwsh")
if pwsh:
    script = ("$e=$null; [System.Management.Automation.Language.Parser]::ParseFile('%s', [ref]$null, [ref]$e) | Out-Null;"
              " if ($e.Count) { $e | ForEach-Object { Write-Output $_.ToString() }; exit 1 }") % path
    inner = body
    tmp = path + ".inner.ps1"
    open(tmp, "w").write(text.split("<powershell>", 1)[1].rsplit("</powershell>", 1)[0])
    r = subprocess.run([pwsh, "-NoProfile", "-Command", script.replace(path, tmp)], capture_output=True, text=True)
    need(r.returncode == 0, "pwsh parser: " + r.stdout + r.stderr)

if problems:
    print(f"{path}: {len(problems)} problem(s)")
    for p in problems:
        print("  - " + p)
    sys.exit(1)
print(f"{path}: ok ({len(text.encode())} bytes)")
