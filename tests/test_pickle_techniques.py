"""Every technique family in fixtures/pickle/hostile is caught: rule id, severity and resolved name."""

from __future__ import annotations

import pytest

from tests.pickle_helpers import HOSTILE, find, findings, scan_json

# fixture file -> (rule id, severity, resolved module.qualname)
CALLS = {
    "call_os_system.pkl": "os.system",
    "call_posix_system.pkl": "posix.system",
    "call_subprocess_popen.pkl": "subprocess.Popen",
    "call_builtins_exec.pkl": "builtins.exec",
    "call_builtins_eval.pkl": "builtins.eval",
    "call_builtins_getattr.pkl": "builtins.getattr",
    "call_builtins_open.pkl": "builtins.open",
    "call_runpy_run_path.pkl": "runpy.run_path",
    "call_cprofile_run.pkl": "cProfile.run",
    "call_profile_run.pkl": "profile.run",
    "call_trace_runctx.pkl": "trace.Trace.runctx",
    "call_timeit_timeit.pkl": "timeit.timeit",
    "call_pdb_run.pkl": "pdb.run",
    "call_bdb_run.pkl": "bdb.Bdb.run",
    "call_code_interact.pkl": "code.InteractiveInterpreter.runsource",
    "call_pydoc_pipepager.pkl": "pydoc.pipepager",
    "call_pydoc_locate.pkl": "pydoc.locate",
    "call_pkgutil_resolve_name.pkl": "pkgutil.resolve_name",
    "call_importlib_import_module.pkl": "importlib.import_module",
    "call_operator_attrgetter.pkl": "operator.attrgetter",
    "call_operator_methodcaller.pkl": "_operator.methodcaller",
    "call_functools_partial.pkl": "functools.partial",
    "call_platform_popen.pkl": "platform.popen",
    "call_uuid_command.pkl": "uuid._get_command_stdout",
    "call_ctypes_cdll.pkl": "ctypes.CDLL",
    "call_ctypes_find_library.pkl": "ctypes.util.find_library",
    "call_torch_hub_load.pkl": "torch.hub.load",
    "call_torch_load.pkl": "torch.load",
    "call_numpy_load.pkl": "numpy.load",
    "call_pandas_read_pickle.pkl": "pandas.read_pickle",
    "call_urllib_urlopen.pkl": "urllib.request.urlopen",
    "call_socket_create_connection.pkl": "socket.create_connection",
    "call_shutil_rmtree.pkl": "shutil.rmtree",
    "call_pathlib_write_text.pkl": "pathlib.Path.write_text",
    "call_venv_create.pkl": "venv.create",
    "call_ensurepip_bootstrap.pkl": "ensurepip.bootstrap",
    "call_webbrowser_open.pkl": "webbrowser.open",
    "call_marshal_loads.pkl": "marshal.loads",
    "call_types_codetype.pkl": "types.CodeType",
    "call_asyncio_shell.pkl": "asyncio.create_subprocess_shell",
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_denied_callable_is_critical_with_its_call_chain(run_cli, name: str) -> None:  # type: ignore[no-untyped-def]
    data = scan_json(run_cli, str(HOSTILE / name), expect=1)
    f = find(data, "AS-PKL-001", CALLS[name])
    assert f["severity"] == "critical"
    assert f["extra"]["call_chain"] and f["extra"]["call_chain"][0].startswith(CALLS[name] + "(")
    assert f["extra"]["decompiled"]


TRICKS = {
    # file: (rule, severity, module.qualname)
    "offset0_global_p0.pkl": ("AS-PKL-001", "critical", "os.system"),
    "inst_builtin_exec_p0.pkl": ("AS-PKL-001", "critical", "__builtin__.exec"),
    "obj_subprocess.pkl": ("AS-PKL-001", "critical", "subprocess.check_call"),
    "newobj_ex_popen.pkl": ("AS-PKL-001", "critical", "subprocess.Popen"),
    "memo_confusion.pkl": ("AS-PKL-001", "critical", "os.system"),
    "string_operands.pkl": ("AS-PKL-001", "critical", "os.system"),
    "build_setattr_global.pkl": ("AS-PKL-006", "critical", "numpy.prod"),
    "dotted_through_pathlib.pkl": ("AS-PKL-001", "critical", "pathlib.os.system"),
    "dunder_globals.pkl": ("AS-PKL-003", "critical", "argparse.Namespace.__init__.__globals__"),
    "dunder_builtins_eval.pkl": ("AS-PKL-003", "critical", "collections.OrderedDict.__init__.__builtins__"),
    "ext_after_add_extension.pkl": ("AS-PKL-001", "critical", "os.system"),
    "missing_memo_key.pkl": ("AS-PKL-001", "critical", "os.system"),
    "frame_straddle.pkl": ("AS-PKL-001", "critical", "os.system"),
    "payload_then_garbage.pkl": ("AS-PKL-001", "critical", "os.system"),
    "junk_between_pickles.pkl": ("AS-PKL-001", "critical", "os.system"),
    "second_pickle.pkl": ("AS-PKL-001", "critical", "os.system"),
    "junk_then_protocol0.pkl": ("AS-PKL-001", "critical", "os.system"),
    "nested_pickle_loads.pkl": ("AS-PKL-001", "critical", "pickle.loads"),
    "nested_pickle_base64.pkl": ("AS-PKL-001", "critical", "_pickle.loads"),
    "joblib_after_array.joblib": ("AS-PKL-001", "critical", "posix.system"),
    "object_array_evil.npy": ("AS-PKL-001", "critical", "posix.system"),
    "torch_legacy_evil.pt": ("AS-PKL-001", "critical", "posix.system"),
    "torch_legacy_appended.pt": ("AS-PKL-001", "critical", "os.system"),
    "joblib_evil.joblib.zlib": ("AS-PKL-001", "critical", "posix.system"),
    "lzma_evil.pkl.lzma": ("AS-PKL-001", "critical", "os.system"),
}


@pytest.mark.parametrize("name", sorted(TRICKS))
def test_technique_is_caught(run_cli, name: str) -> None:  # type: ignore[no-untyped-def]
    rule, severity, dotted = TRICKS[name]
    data = scan_json(run_cli, str(HOSTILE / name), expect=1)
    assert find(data, rule, dotted)["severity"] == severity


def test_build_is_attributed_to_the_object_it_sets_state_on(run_cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    pkl = tmp_path / "build.pkl"
    # os.system('true') then BUILD with {'x': 'y'}: the state goes to the call's result
    pkl.write_bytes(b"\x80\x04\x8c\x02os\x8c\x06system\x93\x8c\x04true\x85R}\x8c\x01x\x8c\x01ysb.")
    data = scan_json(run_cli, str(pkl), expect=1)
    chain = find(data, "AS-PKL-001", "os.system")["extra"]["call_chain"]
    assert chain == ["os.system('true')", "os.system('true').__setstate__({'x': 'y'})"]


def test_memo_and_build_trick_is_a_dynamic_import(run_cli) -> None:  # type: ignore[no-untyped-def]
    data = scan_json(run_cli, str(HOSTILE / "build_setattr_global.pkl"), expect=1)
    dynamic = find(data, "AS-PKL-002")
    assert dynamic["severity"] == "critical"
    assert "numpy.prod.a" in dynamic["detail"] and "numpy.prod.b" in dynamic["detail"]
    assert find(data, "AS-PKL-004", "numpy.prod.a")["severity"] == "medium"


def test_dynamic_import_names_the_call_that_computes_it(run_cli) -> None:  # type: ignore[no-untyped-def]
    data = scan_json(run_cli, str(HOSTILE / "dynamic_import.pkl"), expect=1)
    f = find(data, "AS-PKL-002")
    assert f["severity"] == "critical" and "builtins.str.lower('OS')" in f["detail"]


def test_ext_resolves_through_the_registered_extension(run_cli) -> None:  # type: ignore[no-untyped-def]
    data = scan_json(run_cli, str(HOSTILE / "ext_after_add_extension.pkl"), expect=1)
    assert "EXT code 240" in find(data, "AS-PKL-001", "os.system")["detail"]
    assert find(data, "AS-PKL-001", "copyreg.add_extension")["severity"] == "critical"
    data = scan_json(run_cli, str(HOSTILE / "ext_unregistered.pkl"), expect=1)
    f = find(data, "AS-PKL-007")
    assert f["severity"] == "medium" and "EXT code 1234" in f["detail"]


def test_frame_straddle_is_reported_and_the_hidden_call_found(run_cli) -> None:  # type: ignore[no-untyped-def]
    data = scan_json(run_cli, str(HOSTILE / "frame_straddle.pkl"), expect=1)
    f = find(data, "AS-PKL-009")
    assert f["severity"] == "medium" and f["location"]["offset"] == 12


def test_missing_memo_key_keeps_the_earlier_payload(run_cli) -> None:  # type: ignore[no-untyped-def]
    data = scan_json(run_cli, str(HOSTILE / "missing_memo_key.pkl"), expect=1)
    f = find(data, "AS-PKL-005")
    assert f["severity"] == "medium" and "memo key 99" in f["detail"]


def test_junk_and_stacked_pickles(run_cli) -> None:  # type: ignore[no-untyped-def]
    data = scan_json(run_cli, str(HOSTILE / "junk_between_pickles.pkl"), expect=1)
    junk = find(data, "AS-PKL-008")
    assert junk["severity"] == "medium" and junk["location"]["offset"] > 0
    assert find(data, "AS-PKL-001", "os.system")["location"]["offset"] > junk["location"]["offset"]
    data = scan_json(run_cli, str(HOSTILE / "second_pickle.pkl"), expect=1)
    assert find(data, "AS-PKL-011")["severity"] == "info"
    assert find(data, "AS-PKL-001", "os.system")["location"]["offset"] > 0
    data = scan_json(run_cli, str(HOSTILE / "payload_then_garbage.pkl"), expect=1)
    assert find(data, "AS-PKL-008")["severity"] == "medium"


def test_nested_payload_is_scanned_as_a_member(run_cli) -> None:  # type: ignore[no-untyped-def]
    for name, loader in (("nested_pickle_loads.pkl", "pickle.loads"), ("nested_pickle_base64.pkl", "_pickle.loads")):
        data = scan_json(run_cli, str(HOSTILE / name), expect=1)
        inner = find(data, "AS-PKL-001", "os.system")
        assert inner["severity"] == "critical"
        assert inner["location"]["member"].startswith(f"<payload of {loader} @ ")


def test_legacy_torch_reads_every_stacked_pickle(run_cli) -> None:  # type: ignore[no-untyped-def]
    data = scan_json(run_cli, str(HOSTILE / "torch_legacy_evil.pt"), expect=1)
    assert data["artifacts"][0]["format"] == "pytorch-legacy"
    assert "pickle 4 of 5" in find(data, "AS-PKL-001", "posix.system")["detail"]
    data = scan_json(run_cli, str(HOSTILE / "torch_legacy_appended.pt"), expect=1)
    assert "after the storages" in find(data, "AS-PKL-001", "os.system")["detail"]


def test_secret_in_pickle_string_is_redacted(run_cli) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("scan", str(HOSTILE / "secret_string.pkl"), "--json", "-")
    assert result.code == 1
    data = result.json()
    f = next(f for f in findings(data) if f["rule_id"].startswith("AS-SEC-"))
    assert f["severity"] == "high" and "string constant" in f["detail"]
    assert "FakeTokenForTests" not in result.out and "[REDACTED" in f["evidence"]


def test_policy_allowed_globals_let_an_organisation_class_through(run_cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    pkl = tmp_path / "own.pkl"
    pkl.write_bytes(b"\x80\x04\x8c\x05mycoq\x8c\x05Model\x93)\x81.")
    data = scan_json(run_cli, str(pkl), expect=1)
    assert find(data, "AS-PKL-004", "mycoq.Model")["severity"] == "medium"
    policy = tmp_path / "policy.yaml"
    policy.write_text("version: 1\nallowed_globals: ['mycoq:Model']\n")
    result = run_cli("scan", str(pkl), "--policy", str(policy), "--json", "-")
    assert result.code == 0 and not findings(result.json())


def test_decompiled_code_is_redacted(run_cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    token = "ghp_" + "FakeGithubTokenForTests0123456789abc"
    arg = f"curl -H 'Authorization: token {token}' http://127.0.0.1/".encode()
    pkl = tmp_path / "leak.pkl"
    pkl.write_bytes(b"\x80\x04\x8c\x02os\x8c\x06system\x93\x8c" + bytes([len(arg)]) + arg + b"\x85R.")
    result = run_cli("scan", str(pkl), "--json", "-")
    f = find(result.json(), "AS-PKL-001", "os.system")
    assert "[REDACTED" in f["extra"]["decompiled"] and "[REDACTED" in f["extra"]["call_chain"][0]
    assert "FakeGithubTokenForTests" not in result.out


def test_allowlist_never_holds_dangerous_builtins_and_wins_over_the_denylist() -> None:
    from scanner.pickles.policy import judge, pickle_policy

    policy = pickle_policy()
    forbidden = {"getattr", "setattr", "eval", "exec", "compile", "open", "__import__", "globals", "vars"}
    assert not [n for m, n in policy.allowed if m in ("builtins", "__builtin__") and n in forbidden]
    # narrow exceptions inside denied modules (TorchScript list builders) stay allowed
    assert judge("torch.jit._pickle", "build_intlist").allowed
    assert judge("torch.jit", "load").rule_id == "AS-PKL-001"
    assert all(entry.reason and entry.family for entry in policy.denied.values())


def test_both_readings_of_a_straddled_frame_are_reported_once(run_cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    call = b"\x8c\x02os\x8c\x06system\x93\x8c\x04true\x85R0"  # os.system('true'), POP
    hidden = b"0\x8c\x08builtins\x8c\x03len\x93\x8c\x03abc\x85R."
    body = call + b"\x8e" + (2 + len(hidden)).to_bytes(2, "little")
    pkl = tmp_path / "both.pkl"
    pkl.write_bytes(b"\x80\x04\x95" + len(body).to_bytes(8, "little") + body + bytes(8) + hidden + b".")
    data = scan_json(run_cli, str(pkl), expect=1)
    system = [f for f in findings(data) if f.get("extra", {}).get("qualname") == "system"]
    assert len(system) == 1 and system[0]["severity"] == "critical"
    stack_global = 11 + len(body) + 8 + 1 + 10 + 5  # after the frame, the 8 zeros, POP and two strings
    assert find(data, "AS-PKL-004", "builtins.len")["location"]["offset"] == stack_global
    assert find(data, "AS-PKL-009")["severity"] == "medium"
