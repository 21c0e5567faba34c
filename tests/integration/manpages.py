# SPDX-License-Identifier: Apache-2.0
"""The man pages against the sources, as TAP: every page renders without a
warning; every option each program's parser accepts (read from its C
option tables), every ztctl command, every pam_zt option, every key and
value daemon/config.c accepts and every variable a program reads appears,
in bold, in the right section of its page; the checker finds what it must
(known names are extracted) and fails when a name is missing (a page with
one option removed is refused).  And the README against the tree: the
files it cites exist, the PAM module directory is debian/rules', the
kernel table is common/zt_kernel.c's, the install commands name the
packages and profile debian/ builds.

usage: python3 manpages.py TOP_SRCDIR
"""
import os
import re
import shutil
import subprocess
import sys

TOP = sys.argv[1]
MAN = os.path.join(TOP, 'man')
count = 0
failed = 0


def tap(good, what, detail=''):
    global count, failed
    count += 1
    if not good:
        failed += 1
    line = ('ok %d - %s' if good else 'not ok %d - %s') % (count, what)
    if detail and not good:
        line += ' (' + detail.replace('\n', ' | ')[:600] + ')'
    print(line)


def source(path):
    with open(os.path.join(TOP, path), encoding='utf-8') as f:
        # Comments hold no option table: drop them, strings kept.
        text = f.read()
    return re.sub(r'/\*.*?\*/', ' ', text, flags=re.S)


# ----------------------------------------------------------- the sources

def long_options(text):
    """The names of every `struct option NAME[] = { ... };` table."""
    names = []
    for table in re.finditer(
            r'struct\s+option\s+\w+\s*\[\s*\]\s*=\s*\{(.*?)\}\s*;',
            text, re.S):
        for entry in re.finditer(
                r'\{\s*"([^"]+)"\s*,\s*(no_argument|required_argument|'
                r'optional_argument|[0-2])\s*,', table.group(1)):
            names.append('--' + entry.group(1))
    return names


def short_options(text):
    """The letters of every getopt/getopt_long option string."""
    letters = []
    for call in re.finditer(
            r'getopt(?:_long(?:_only)?)?\s*\(\s*\w+\s*,\s*\w+\s*,\s*'
            r'"([^"]*)"', text):
        spec = call.group(1).lstrip('+-').lstrip(':')
        for ch in spec:
            if ch != ':':
                letters.append('-' + ch)
    return letters


def ztctl_commands(text):
    """ztctl's commands (strcmp(command, ...)), their words
    (strcmp(argv[N], ...)) and hand-parsed options ("--head")."""
    commands = re.findall(r'strcmp\(\s*command\s*,\s*"([^"]+)"\s*\)', text)
    words = re.findall(r'strcmp\(\s*argv\[\w+\]\s*,\s*"([^"]+)"\s*\)', text)
    return commands, words


def pam_options(text):
    """pam_zt's options: strcmp(option, "x") and strncmp(option, "x=")."""
    return re.findall(r'strn?cmp\(\s*option\s*,\s*"([^"]+)"', text)


def config_names(text):
    """Every key and value daemon/config.c accepts: the strings of every
    `static const char *const NAME[] = { ..., NULL }` table (keys are the
    *_keys tables, the others the values of choices)."""
    keys, values = [], []
    for table in re.finditer(
            r'static\s+const\s+char\s*\*\s*const\s+(\w+)\s*\[\s*\]\s*=\s*'
            r'\{(.*?)\}\s*;', text, re.S):
        strings = re.findall(r'"([^"]*)"', table.group(2))
        (keys if table.group(1).endswith('_keys') else values).extend(
            strings)
    return keys, values


def variables(text):
    """Environment variables read: getenv/secure_getenv("X") and the
    `#define ENV_... "X"` names pam_getenv is called with."""
    found = re.findall(r'(?:secure_)?getenv\(\s*"([^"]+)"\s*\)', text)
    found += re.findall(r'#\s*define\s+ENV_\w+\s+"([A-Z_][A-Z0-9_]*)"', text)
    return found


# ------------------------------------------------------------ the pages

ALTERNATING = {'BI': 'BI', 'IB': 'IB', 'BR': 'BR', 'RB': 'RB', 'IR': 'IR',
               'RI': 'RI'}
SPECIAL = {'-': '-', '(dq': '"', '(aq': "'", '(rs': '\\', '(en': '-',
           '(em': '-', '&': '', 'e': '\\', '(lq': '"', '(rq': '"'}


def roff_args(rest):
    """A macro line's arguments, as roff splits them."""
    args, i = [], 0
    while i < len(rest):
        if rest[i] == ' ':
            i += 1
            continue
        if rest[i] == '"':
            j, buf = i + 1, ''
            while j < len(rest):
                if rest[j] == '"':
                    if rest[j + 1:j + 2] == '"':
                        buf += '"'
                        j += 2
                        continue
                    break
                buf += rest[j]
                j += 1
            args.append(buf)
            i = j + 1
        else:
            j = i
            while j < len(rest) and rest[j] != ' ':
                j += 1
            args.append(rest[i:j])
            i = j
    return args


def runs(text, font):
    """(font, text) runs of TEXT, starting in FONT, following \\fX."""
    out, buf, i = [], '', 0
    while i < len(text):
        c = text[i]
        if c == '\\' and i + 1 < len(text):
            n = text[i + 1]
            if n == 'f' and i + 2 < len(text):
                out.append((font, buf))
                buf = ''
                font = {'B': 'B', 'I': 'I', 'R': 'R', 'P': 'R'}.get(
                    text[i + 2], 'R')
                i += 3
                continue
            if n == 'c':
                i += 2
                continue
            if n == '(':
                buf += SPECIAL.get(text[i + 1:i + 4], '?')
                i += 4
                continue
            buf += SPECIAL.get(n, n)
            i += 2
            continue
        buf += c
        i += 1
    out.append((font, buf))
    return out


def parse_page(text):
    """{SECTION: (bold tokens, plain text)} of a man page's source."""
    sections, name = {}, ''
    for line in text.split('\n'):
        if line.startswith('.\\"'):
            continue
        m = re.match(r'\.(\w+)\s*(.*)', line)
        pieces = []
        if m:
            macro, rest = m.group(1), m.group(2)
            if macro in ('SH', 'SS') and macro == 'SH':
                name = ' '.join(roff_args(rest))
                sections.setdefault(name, ([], []))
                continue
            if macro in ('B', 'I'):
                pieces = runs(' '.join(roff_args(rest)), macro)
            elif macro in ALTERNATING:
                fonts = ALTERNATING[macro]
                for k, arg in enumerate(roff_args(rest)):
                    pieces += runs(arg, fonts[k % 2])
            elif macro in ('TP', 'IP', 'PP', 'RS', 'RE', 'nf', 'fi', 'br',
                           'TH', 'SS', 'LP', 'P', 'HP', 'sp'):
                if macro == 'SS':
                    pieces = runs(rest, 'R')
                else:
                    continue
            else:
                continue
        else:
            pieces = runs(line, 'R')
        bold, plain = sections.setdefault(name, ([], []))
        for font, chunk in pieces:
            plain.append(chunk)
            if font == 'B':
                bold.extend(t.strip('.,;:()[]{}|"\'')
                            for t in re.split(r'[\s|,\[\]{}()"]+', chunk))
    return {k: (set(filter(None, b)), ' '.join(p))
            for k, (b, p) in sections.items()}


def missing(page, section, names):
    """The NAMES not in bold in SECTION (None: anywhere) of PAGE."""
    if section is None:
        bold = set().union(*(b for b, _ in page.values()))
    else:
        bold = page.get(section, (set(), ''))[0]
    return [n for n in names if n not in bold]


def in_text(page, section, names):
    """The NAMES not anywhere in SECTION's text (bold or not)."""
    text = page.get(section, (set(), ''))[1]
    return [n for n in names
            if not re.search(r'(?<![\w-])' + re.escape(n) + r'(?![\w-])',
                             text)]


def read_page(name):
    with open(os.path.join(MAN, name), encoding='utf-8') as f:
        return f.read()


PAGES = sorted(p for p in os.listdir(MAN) if re.match(r'.+\.[1-8]$', p))

# ----------------------------------------------- render without warnings
env = dict(os.environ, LC_ALL='C.UTF-8', MANWIDTH='80', MAN_KEEP_FORMATTING='')
for p in PAGES:
    path = os.path.join(MAN, p)
    r = subprocess.run(['groff', '-man', '-Tutf8', '-ww', '-z', path],
                       capture_output=True, text=True)
    tap(r.returncode == 0 and r.stderr == '',
        '%s: groff -man -Tutf8 -ww renders it without a warning' % p,
        r.stderr)
    if shutil.which('man'):
        r = subprocess.run(['man', '--warnings=all', '-l', path],
                           capture_output=True, text=True, env=env)
        tap(r.returncode == 0 and r.stderr == '' and 'NAME' in r.stdout,
            '%s: man -l renders it without a warning' % p, r.stderr)
    if shutil.which('mandoc'):
        r = subprocess.run(['mandoc', '-Tlint', '-Wwarning', path],
                           capture_output=True, text=True)
        tap(r.stdout == '' and r.stderr == '',
            '%s: mandoc -Tlint finds nothing' % p, r.stdout + r.stderr)
    text = read_page(p)
    bad = []
    for no, line in enumerate(text.split('\n'), 1):
        if re.search(r'[\x00-\x08\x0b-\x1f\x7f]', line):
            bad.append('line %d: a control character' % no)
        m = re.match(r'\.(BI|IB|BR|RB|IR|RI)\s*(.*)', line)
        if m and len(roff_args(m.group(2))) < 2:
            bad.append('line %d: .%s with one argument' % (no, m.group(1)))
    tap(not bad, '%s: no control characters, no font macro missing its '
        'alternation' % p, '; '.join(bad))
    th = re.search(r'^\.TH\s+(\S+)\s+(\d)', text, re.M)
    want = p.rsplit('.', 1)
    tap(th is not None and th.group(1).lower() == want[0].lower() and
        th.group(2) == want[1], '%s: .TH names the page' % p)

# ------------------------------------------------------ the sections
REQUIRED = ['NAME', 'SYNOPSIS', 'DESCRIPTION', 'ENVIRONMENT', 'FILES',
            'EXAMPLES', 'SEE ALSO']
parsed = {p: parse_page(read_page(p)) for p in PAGES}
for p in PAGES:
    want = list(REQUIRED)
    if not p.endswith('.5'):
        want.append('OPTIONS')
    # A PAM module has no exit status: its hooks' return values.
    want.append('RETURN VALUES' if p.startswith('pam_') else 'EXIT STATUS')
    absent = [s for s in want if s not in parsed[p]]
    tap(not absent, '%s: has %s' % (p, ', '.join(want)),
        'missing: ' + ', '.join(absent))

for p, words in (('ztd.8', ['not built yet']),
                 ('ztd.conf.5', ['conf/ztd.conf', 'source tree'])):
    text = read_page(p)
    stale = [w for w in words if w in text]
    tap(not stale, '%s: nothing stale (%s)' % (p, ', '.join(words)),
        ', '.join(stale))

# ------------------------------------------- names from the sources
ztd_c = source('daemon/ztd.c')
ztctl_c = source('daemon/ztctl.c')
# ztctl fleet's own parser (its subcommands and --key, --why, --config).
fleet_c = source('daemon/ztctl_fleet.c')
exec_c = source('seccomp/zt-exec.c')
args_c = source('pam_module/args.c')
pam_c = source('pam_module/pam_zt.c')
config_c = source('daemon/config.c')

programs = {
    'ztd': (ztd_c, long_options(ztd_c), short_options(ztd_c)),
    'ztctl': (ztctl_c, long_options(ztctl_c), short_options(ztctl_c)),
    'zt-exec': (exec_c, long_options(exec_c), short_options(exec_c)),
}
commands, words = ztctl_commands(ztctl_c)
fleet_words = ztctl_commands(fleet_c)[0]
fleet_options = long_options(fleet_c)
pam = pam_options(args_c)
keys, values = config_names(config_c)

# The extraction finds what it must, or every check below is hollow.
expect = [
    ('ztd long options', programs['ztd'][1],
     ['--config', '--check-config', '--syslog-socket', '--help']),
    ('ztd short options', programs['ztd'][2], ['-c', '-s', '-f', '-h']),
    ('ztctl long options (main, check, revoke)', programs['ztctl'][1],
     ['--socket', '--json', '--agent', '--object', '--kill']),
    ('ztctl short options', programs['ztctl'][2], ['-s', '-j', '-h']),
    ('zt-exec long options', programs['zt-exec'][1],
     ['--agent', '--syslog-socket', '--version']),
    ('ztctl commands', commands,
     ['status', 'check', 'enroll-agent', 'attest', 'audit']),
    ('ztctl command words', words, ['show', 'crl', 'verify', '--head']),
    ('ztctl fleet subcommands', fleet_words,
     ['push', 'disable', 'enable', 'status']),
    ('ztctl fleet options', fleet_options, ['--key', '--why', '--config']),
    ('pam_zt options', pam, ['debug', 'socket=', 'timeout=', 'group=']),
    ('ztd.conf keys', keys,
     ['idle_timeout', 'max_entries', 'server_name', 'quote_interval',
      'pam_services', 'agents']),
    ('ztd.conf values', values, ['software', 'kill', 'udp', 'optional']),
    ('variables zt-exec reads', variables(exec_c), ['ZT_GRANT']),
    ('variables pam_zt sets', variables(pam_c), ['ZT_GRANT']),
]
for what, found, known in expect:
    lost = [k for k in known if k not in found]
    tap(not lost, 'the extraction finds %s (%d: %s)' %
        (what, len(set(found)), ' '.join(sorted(set(found)))),
        'not found: ' + ', '.join(lost))

# ----------------------------------------- every name in its page
checks = []
for prog, page in (('ztd', 'ztd.8'), ('ztctl', 'ztctl.8'),
                   ('zt-exec', 'zt-exec.1')):
    text, longs, shorts = programs[prog]
    top = long_options(text.split('\nmain(', 1)[-1]) if prog == 'ztctl' \
        else longs
    top_shorts = short_options(text.split('\nmain(', 1)[-1]) \
        if prog == 'ztctl' else shorts
    checks.append(('%s: every option of its parser in OPTIONS' % page,
                   page, 'OPTIONS', sorted(set(top + top_shorts))))
    checks.append(('%s: every variable %s reads in ENVIRONMENT' %
                   (page, prog), page, 'ENVIRONMENT',
                   sorted(set(variables(text)))))
sub = [o for o in programs['ztctl'][1]
       if o not in long_options(ztctl_c.split('\nmain(', 1)[-1])]
sub += fleet_options
words += fleet_words
checks += [
    ('ztctl.8: every command in COMMANDS', 'ztctl.8', 'COMMANDS',
     sorted(set(commands + words))),
    ('ztctl.8: every option of a command (check, revoke, ..., fleet) in '
     'COMMANDS',
     'ztctl.8', 'COMMANDS', sorted(set(sub))),
    ('pam_zt.8: every option args.c accepts in OPTIONS', 'pam_zt.8',
     'OPTIONS', sorted(set(pam))),
    ('pam_zt.8: the variable it sets in ENVIRONMENT', 'pam_zt.8',
     'ENVIRONMENT', sorted(set(variables(pam_c)))),
    ('ztd.conf.5: every key config.c accepts in SECTIONS', 'ztd.conf.5',
     'SECTIONS', sorted(set(keys))),
    ('ztd.conf.5: every value of a choice config.c accepts', 'ztd.conf.5',
     None, sorted(set(values))),
]
for what, page, section, names in checks:
    lost = missing(parsed[page], section, names)
    # A program may read no variable; every other list must have names
    # (the extraction checks above say which).
    tap((bool(names) or 'variable' in what) and not lost,
        '%s (%d: %s)' % (what, len(names), ' '.join(names)),
        'missing: ' + ', '.join(lost) if names else 'nothing extracted')

# ------------------------ the checker refuses a page missing one name
for page, section, name, pattern in (
        ('ztd.conf.5', 'SECTIONS', 'idle_timeout',
         r'\.B idle_timeout\n'),
        ('ztd.8', 'OPTIONS', '-f', r'\.BR \\-f ", " '),
        ('pam_zt.8', 'OPTIONS', 'group=', r'\.BI group= NAME\n(?=The group)')):
    text = read_page(page)
    cut = re.sub(pattern, '', text, count=1)
    before = missing(parse_page(text), section, [name])
    after = missing(parse_page(cut), section, [name])
    tap(cut != text and before == [] and after == [name],
        '%s without its entry for %s fails the check' % (page, name),
        'before %r after %r (page changed: %s)' % (before, after,
                                                    cut != text))

# ------------------------------------------ the README against the tree
# What issue 13 found wrong in it: files it cites that the repository
# lacks (DESIGN.md, INTERFACES.md), the wrong PAM module directory, no
# kernel named.  Each check reads the value it holds the README to from
# where the code or the packaging sets it.
with open(os.path.join(TOP, 'README.md'), encoding='utf-8') as f:
    readme = f.read()

TREE = r'(?:conf|man|tests|scripts|daemon|common|seccomp|pam_module|debian|bench|\.ci)'
cited = set()
for span in re.findall(r'`([^`\n]+)`', readme):
    for tok in span.split():
        tok = tok.strip('.,;:()')
        if re.match(r'^(?:\./)?%s/[\w./+-]*$' % TREE, tok):
            cited.add(tok)
cited.update(t for t in re.findall(r'\]\(([^)#\s]+)\)', readme)
             if '://' not in t)
cited.update(re.findall(r'(?<![\w/.-])[\w-]+\.md\b', readme))
# bench/NAME is the program built from bench/NAME.c.
absent = sorted(c for c in cited
                if not os.path.exists(os.path.join(TOP, c)) and
                not os.path.exists(os.path.join(TOP, c + '.c')))
tap(len(cited) > 10 and not absent,
    'README: every file of the repository it cites exists (%d cited)'
    % len(cited), 'absent: ' + ', '.join(absent))
tap('DESIGN.md' not in readme and 'INTERFACES.md' not in readme,
    'README: cites neither DESIGN.md nor INTERFACES.md (not in the tree)')

# The module directory: where debian/rules puts pam_zt.so.
with open(os.path.join(TOP, 'debian', 'rules'), encoding='utf-8') as f:
    rules = f.read()
m = re.search(r'--with-pammoddir=(\S+)', rules)
moddir = m.group(1).replace('$(DEB_HOST_MULTIARCH)', 'x86_64-linux-gnu') \
    if m else None
tap(moddir is not None and '`%s`' % moddir in readme,
    'README: names the package\'s PAM module directory (%s)' % moddir)
# And make install's default: configure.ac's, pam.pc's libdir + /security.
r = subprocess.run(['pkg-config', '--variable=libdir', 'pam'],
                   capture_output=True, text=True) \
    if shutil.which('pkg-config') else None
if r is not None and r.returncode == 0 and r.stdout.strip():
    default = r.stdout.strip() + '/security'
    tap('`%s`' % default in readme,
        'README: names make install\'s default module directory (%s)'
        % default)
else:
    print('ok %d # SKIP pkg-config knows no pam' % (count + 1))
    count += 1

# The kernel: every feature common/zt_kernel.c checks, in a row of the
# README's table with the Linux version the code names.
table = readme.split('### The kernel it needs', 1)[-1].split('\n### ', 1)[0]
rows = [r for r in table.split('\n') if r.startswith('| ') and
        not r.startswith('| part') and not r.startswith('|---')]
features = re.findall(r'\[ZT_KF_\w+\]\s*=\s*\{\s*"([^"]+)",\s*"([^"]+)"',
                      source('common/zt_kernel.c'))
wrong = []
for name, version in features:
    key = name if any(name in r for r in rows) else name.rsplit(' ', 1)[0]
    row = [r for r in rows if key in r]
    cells = [c.strip() for c in row[0].split('|')] if row else []
    if len(cells) < 4 or version not in re.split(r',\s*', cells[3]):
        wrong.append('%s (%s)' % (name, version))
tap(len(features) >= 9 and not wrong,
    'README: the kernel table has each of the %d features zt_kernel.c '
    'checks with its Linux version' % len(features),
    'missing or another version: ' + ', '.join(wrong))
need = re.search(r'ztd needs Linux (\d+\.\d+)', readme)
peer = dict(features).get('SO_PEERPIDFD')
tap(need is not None and need.group(1) == peer and
    "Debian 12's own kernel is 6.1" in readme and
    'apt install -t bookworm-backports linux-image-amd64' in readme,
    'README: ztd needs Linux %s (SO_PEERPIDFD), Debian 12 has 6.1, '
    'bookworm-backports has newer' % peer)

# The install section: the packages' names and the profile's.
names = re.findall(r'^Package:\s*(\S+)', open(os.path.join(
    TOP, 'debian', 'control'), encoding='utf-8').read(), re.M)
profile = os.path.basename(re.search(
    r'conf/pam-configs/(\S+)', open(os.path.join(
        TOP, 'debian', 'libpam-zt.install'), encoding='utf-8').read()).group(1))
tap(names == ['ztgate', 'libpam-zt'] and
    'apt install ./ztgate_*.deb ./libpam-zt_*.deb' in readme and
    'pam-auth-update --enable %s' % profile in readme,
    'README: apt install ./ztgate_*.deb ./libpam-zt_*.deb and '
    'pam-auth-update --enable %s (the packages and profile debian/ makes)'
    % profile)

print('1..%d' % count)
sys.exit(1 if failed else 0)
