// The command line: help on every command, clear errors with exit status 2.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { cli, removeDir, tempDir } from './helpers.mjs';

let dir;
before(() => { dir = tempDir(); });
after(() => removeDir(dir));

describe('command line', () => {
  it('prints help for every command with exit 0', () => {
    const top = cli(['--help']);
    assert.equal(top.status, 0);
    for (const cmd of ['serve', 'demo', 'migrate', 'user', 'token', 'classify', 'calc', 'config']) {
      assert.match(top.stdout, new RegExp(`\\b${cmd}\\b`));
      const r = cli([cmd, '--help']);
      assert.equal(r.status, 0, `${cmd} --help: ${r.stderr}`);
      assert.match(r.stdout, /usage/i);
    }
    assert.equal(cli(['user', 'add', '--help']).status, 0);
    assert.equal(cli(['token', 'create', '--help']).status, 0);
  });

  it('exits 2 with a message on wrong arguments', () => {
    const cases = [
      [[], /usage/],
      [['frobnicate'], /unknown command/],
      [['serve', '--bogus', '1'], /unknown option '--bogus'/],
      [['serve', '--public_url', 'care.example.ru'], /public_url must be an http/],
      [['serve', '--listen'], /needs a value/],
      [['serve', '--readers', 'many'], /readers must be a whole number/],
      [['serve', 'extra'], /unexpected argument/],
      [['demo', '--seed', '-1', '--db', `${dir}/x.db`], /--seed must be/],
      [['migrate'], /--db FILE is required/],
      [['user'], /expected 'add'/],
      [['user', 'add', '--db', `${dir}/u.db`, '--login', 'x', '--role', 'wizard'], /unknown role 'wizard'/],
      [['user', 'add', '--db', `${dir}/u.db`, '--login', 'x', '--role', 'store_director'], /needs --store/],
      [['token', 'create', '--db', `${dir}/u.db`, '--name', 'x'], /--role is required/],
      [['token', 'create', '--db', `${dir}/u.db`, '--name', 'x', '--role', 'store_director'], /needs --store/],
      [['config', 'nonsense'], /expected 'example'/],
    ];
    for (const [args, msg] of cases) {
      const r = cli(args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, msg, args.join(' '));
    }
  });

  it('creates users (password on stdin) and refuses short passwords and duplicates', () => {
    const db = `${dir}/users.db`;
    assert.equal(cli(['migrate', '--db', db]).status, 0);
    assert.ok(existsSync(db));
    const short = cli(['user', 'add', '--db', db, '--login', 'olga', '--role', 'operator'], 'short\n');
    assert.equal(short.status, 2);
    assert.match(short.stderr, /8 characters/);
    const ok = cli(['user', 'add', '--db', db, '--login', 'olga', '--role', 'operator'], 'correct horse battery\n');
    assert.equal(ok.status, 0, ok.stderr);
    const dup = cli(['user', 'add', '--db', db, '--login', 'olga', '--role', 'operator'], 'correct horse battery\n');
    assert.equal(dup.status, 2);
    assert.match(dup.stderr, /exists already/);
    const badStore = cli(['user', 'add', '--db', db, '--login', 'dir', '--role', 'store_director', '--store', 'NOPE'], 'correct horse battery\n');
    assert.equal(badStore.status, 2);
    assert.match(badStore.stderr, /unknown store code/);
  });

  it('prints an API token once, in a recognisable form', () => {
    const db = `${dir}/tokens.db`;
    const r = cli(['token', 'create', '--db', db, '--name', 'pos', '--role', 'integration']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout.trim(), /^otk_[A-Za-z0-9_-]{43}$/);
  });

  it('generates the example configuration from the option table', () => {
    const r = cli(['config', 'example']);
    assert.equal(r.status, 0);
    for (const opt of ['listen', 'db', 'max_body_bytes', 'readers', 'session_ttl_s']) assert.match(r.stdout, new RegExp(`^${opt} = `, 'm'));
  });
});
