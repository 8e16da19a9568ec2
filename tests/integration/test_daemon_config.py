# SPDX-License-Identifier: GPL-3.0-or-later
"""--check-config, config errors naming section/key/value, secrets never printed, the
startup self-test, --version/--help, unknown options."""

import os

from amtest import AM_SRC, Daemon, Meter, Runner, check, run_cli, write_config


def test_check_config_summary():
    m = Meter()
    path = write_config(f"""[GENERAL]
DEVICE_TYPE = ct002, shellyemg3
[CT002]
UDP_PORT = 23456
[JSON_HTTP]
URL = {m.url()}
JSON_PATHS = $.phase_a
PASSWORD = hunter2-secret
NETMASK = 192.168.0.0/16
[JSON_HTTP_2]
URL = {m.url()}
JSON_PATHS = $.phase_b
""")
    rc, out, err = run_cli(["-c", path, "--check-config"])
    check(rc == 0, (rc, out, err))
    check("configuration OK" in out, out)
    check("ct002" in out and "23456" in out, out)
    check("[JSON_HTTP]" in out and "[JSON_HTTP_2]" in out, out)
    check("hunter2" not in out + err, "secret printed")
    m.stop()


def test_bad_values_name_section_key_value():
    cases = [
        ("[GENERAL]\nDEVICE_TYPE = ct002\n[CT002]\nUDP_PORT = twelve\n[JSON_HTTP]\nURL = http://x\nJSON_PATHS = $.a\n",
         ["CT002", "UDP_PORT", "twelve"]),
        ("[GENERAL]\nDEVICE_TYPE = ct004\n[JSON_HTTP]\nURL = http://x\nJSON_PATHS = $.a\n",
         ["DEVICE_TYPE", "ct004"]),
        ("[GENERAL]\nDEVICE_TYPE = ct002\nWAIT_FOR_NEXT_MESSAGE = maybe\n[JSON_HTTP]\nURL = http://x\nJSON_PATHS = $.a\n",
         ["GENERAL", "WAIT_FOR_NEXT_MESSAGE", "maybe"]),
        ("[GENERAL]\nDEVICE_TYPE = ct002\n[JSON_HTTP]\nURL = http://x\nJSON_PATHS = $.a\nNETMASK = 10.0.0.0/99\n",
         ["JSON_HTTP", "NETMASK", "10.0.0.0/99"]),
        ("[GENERAL]\nDEVICE_TYPE = ct002\n[JSON_HTTP]\nURL = http://x\nJSON_PATHS = $.a\nTHROTTLE_INTERVAL = -3\n",
         ["JSON_HTTP", "THROTTLE_INTERVAL", "-3"]),
        ("[GENERAL]\nDEVICE_TYPE = ct002\n",
         ["powermeter"]),
    ]
    for text, needles in cases:
        rc, out, err = run_cli(["-c", write_config(text), "--check-config"])
        check(rc == 1, (rc, text, out, err))
        for n in needles:
            check(n in err, (n, err))


def test_missing_file_and_syntax_error():
    rc, out, err = run_cli(["-c", "/nonexistent/config.ini", "--check-config"])
    check(rc == 1 and "/nonexistent/config.ini" in err, err)
    rc, out, err = run_cli(["-c", write_config("[GENERAL\nDEVICE_TYPE = ct002\n"), "--check-config"])
    check(rc == 1 and "config.ini:1:" in err, err)


def test_unknown_and_not_yet_supported_keys_are_warned():
    text = """[GENERAL]
DEVICE_TYPE = ct002
DEVICE_TPYE = typo
[CT002]
ACTIVE_CONTROL = False
[MQTT_INSIGHTS]
BROKER = localhost
[JSON_HTTP]
URL = http://127.0.0.1:1/x
JSON_PATHS = $.a
"""
    rc, out, err = run_cli(["-c", write_config(text), "--check-config"])
    check(rc == 0, (out, err))
    check("DEVICE_TPYE" in err and "unknown" in err, err)
    check("MQTT_INSIGHTS" in err and "not supported yet" in err, err)


# One section per meter kind built here, each with the keys it needs and one typo: the
# config schema's meter kinds come from the driver table (struct pm_driver.keys), so every
# meter section must name its typo, and no real key may be reported.
ALL_METERS = """[GENERAL]
DEVICE_TYPE = ct002
[SHELLY]
TYPE = 1PM
IP = 127.0.0.1
TPYO_SHELLY = 1
[TASMOTA]
IP = 127.0.0.1
JSON_STATUS = StatusSNS
JSON_PAYLOAD_MQTT_PREFIX = ENERGY
JSON_POWER_MQTT_LABEL = Power
TPYO_TASMOTA = 1
[SHRDZM]
IP = 127.0.0.1
TPYO_SHRDZM = 1
[EMLOG]
IP = 127.0.0.1
METER_INDEX = 1
TPYO_EMLOG = 1
[IOBROKER]
IP = 127.0.0.1
CURRENT_POWER_ALIAS = a
TPYO_IOBROKER = 1
[HOMEASSISTANT]
IP = 127.0.0.1
ACCESSTOKEN = x
CURRENT_POWER_ENTITY = sensor.p
TPYO_HOMEASSISTANT = 1
[VZLOGGER]
IP = 127.0.0.1
PORT = 8080
UUID = u
TPYO_VZLOGGER = 1
[SCRIPT]
COMMAND = echo 1
TPYO_SCRIPT = 1
[ESPHOME]
IP = 127.0.0.1
DOMAIN = sensor
ID = p
TPYO_ESPHOME = 1
[AMIS_READER]
IP = 127.0.0.1
TPYO_AMIS_READER = 1
[TQ_EM]
IP = 127.0.0.1
TPYO_TQ_EM = 1
[JSON_HTTP]
URL = http://127.0.0.1/x
JSON_PATHS = $.a
TPYO_JSON_HTTP = 1
[HOMEWIZARD]
IP = 127.0.0.1
TOKEN = t
SERIAL = s
TPYO_HOMEWIZARD = 1
[ENVOY]
HOST = 127.0.0.1
TOKEN = t
TPYO_ENVOY = 1
[SMA_ENERGY_METER]
TPYO_SMA_ENERGY_METER = 1
[FRITZ]
HOST = 127.0.0.1
USER = u
PASSWORD = p
AIN = 123456789012
TPYO_FRITZ = 1
[FRONIUS]
IP = 127.0.0.1
TPYO_FRONIUS = 1
[TIBBER_PULSE]
IP = 127.0.0.1
PASSWORD = p
TPYO_TIBBER_PULSE = 1
[MQTT]
BROKER = 127.0.0.1
TOPIC = t
TPYO_MQTT = 1
[SML]
SERIAL = /dev/null
[MODBUS_1]
HOST = x
"""


def test_typo_in_every_meter_section_is_warned():
    rc, out, err = run_cli(["-c", write_config(ALL_METERS), "--check-config"])
    check(rc == 0, (out, err))
    sections = [line[1:-1] for line in ALL_METERS.splitlines() if line.startswith("[")]
    meters = [sec for sec in sections if sec not in ("GENERAL", "SML", "MODBUS_1")]
    check(len(meters) == 19, meters)
    for sec in meters:
        check(f"[{sec}] TPYO_{sec}: unknown key, ignored" in err, (sec, err))
    for sec in ("SML", "MODBUS_1"):
        check(f"[{sec}]: not supported yet, section ignored" in err, (sec, err))
    warnings = [line for line in err.splitlines() if "WARNING config:" in line]
    check(len(warnings) == len(meters) + 2, warnings)


def test_example_config_validates():
    rc, out, err = run_cli(["-c", os.path.join(AM_SRC, "config.example.ini"), "--check-config"])
    check(rc == 0, (out, err))


def test_selftest_failure_exits_1_and_success_runs():
    # Dead meter, no -t: four attempts 5 s apart, then exit 1 (as upstream).
    text = """[GENERAL]
DEVICE_TYPE = ct002
[CT002]
UDP_PORT = 23999
[JSON_HTTP]
URL = http://127.0.0.1:1/power
JSON_PATHS = $.a
"""
    d = Daemon(text, args=())
    check(d.wait_log("self-test attempt 1", 5), d.output())
    rc = d.proc.wait(30)
    check(rc == 1, (rc, d.output()))
    check("self-test attempt 4" in d.output(), d.output())
    d.stop()
    m = Meter()
    m.set_power(5)
    d = Daemon(f"[GENERAL]\nDEVICE_TYPE = ct002\n[CT002]\nUDP_PORT = 23998\n[JSON_HTTP]\nURL = {m.url()}\nJSON_PATHS = $.phase_a\n", args=())
    check(d.wait_log("self-test OK", 5), d.output())
    check(d.wait_log("running", 5), d.output())
    check(d.stop() == 0)
    m.stop()


def test_version_help_unknown_option():
    rc, out, _ = run_cli(["--version"])
    check(rc == 0 and out.startswith("astrameter "), out)
    rc, out, _ = run_cli(["--help"])
    check(rc == 0 and "--check-config" in out, out)
    rc, _, err = run_cli(["--bogus"])
    check(rc == 2 and "--bogus" in err, err)
    rc, _, err = run_cli(["-d", "ct004"])
    check(rc == 2 and "-d: invalid choice 'ct004' (choose from ct002, ct003, shellypro3em, "
          "shellyemg3, shellyproem50, shellypro3em_old, shellypro3em_new)" in err, (rc, err))


if __name__ == "__main__":
    Runner().run([
        test_check_config_summary,
        test_bad_values_name_section_key_value,
        test_missing_file_and_syntax_error,
        test_unknown_and_not_yet_supported_keys_are_warned,
        test_typo_in_every_meter_section_is_warned,
        test_example_config_validates,
        test_selftest_failure_exits_1_and_success_runs,
        test_version_help_unknown_option,
    ])
