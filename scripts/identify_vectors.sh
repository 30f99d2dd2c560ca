#!/usr/bin/env bash
# Capture the identification test vectors (tests/identify_vectors/*.bin) from
# real Debian daemons. Each daemon runs in the foreground inside a network
# namespace of this script's own (only `lo`, no route anywhere), listens
# there, gets one connection from examples/identify_capture.rs (wait for a
# banner and/or send our hello, keep the first bytes), and is stopped. At
# exit, also on failure, every process left in the namespace is killed and the
# namespace removed.
#
#   scripts/identify_vectors.sh [NAME...]     (root; default: every service)
#
# Packages: openssh-server nginx-light redis-server vsftpd memcached mosquitto
# opensmtpd dovecot-pop3d dovecot-imapd inetutils-telnetd socat rsync slapd
# ngircd mariadb-server postgresql tigervnc-standalone-server xrdp
# rabbitmq-server samba openssl.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=tests/identify_vectors
NS=ssw-idv-$$
T=$(mktemp -d /tmp/ssw-idv.XXXXXX)
chmod 755 "$T"
cargo build -q --release --example identify_capture || exit 1
CAP=${CARGO_TARGET_DIR:-$(pwd)/target}/release/examples/identify_capture

cleanup() {
    for p in $(ip netns pids "$NS" 2>/dev/null); do kill "$p" 2>/dev/null; done
    sleep 1
    for p in $(ip netns pids "$NS" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
    ip netns del "$NS" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
ip netns add "$NS" || exit 1
ip netns exec "$NS" ip link set lo up

in_ns() { ip netns exec "$NS" "$@"; }

wait_port() {
    for _ in $(seq 1 "${WAIT_TRIES:-100}"); do
        in_ns bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null && return 0
        sleep 0.2
    done
    echo "  port $1 never opened" >&2
    return 1
}

stop_all() {
    for p in $(ip netns pids "$NS" 2>/dev/null); do kill "$p" 2>/dev/null; done
    for _ in $(seq 1 50); do
        [[ -z "$(ip netns pids "$NS" 2>/dev/null)" ]] && return
        sleep 0.1
    done
    for p in $(ip netns pids "$NS" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
    sleep 0.3
}

# capture FILE PORT HELLO BANNER_MS (an empty capture is reported, not kept:
# e.g. redis, memcached, mosquitto, slapd, postgres and samba send nothing back
# to an HTTP hello, they close or wait)
capture() {
    printf '  %-28s ' "$1"
    in_ns "$CAP" "$2" "$3" "$4" "$OUT/$1.bin"
    [[ -s "$OUT/$1.bin" ]] || { rm -f "$OUT/$1.bin"; echo "  (empty, not kept)"; }
    return 0
}

# run NAME PORT CMD...: start CMD in the namespace (own session), wait for PORT.
run() {
    local name=$1 port=$2
    shift 2
    echo "$name:"
    setsid ip netns exec "$NS" "$@" >"$T/$name.log" 2>&1 &
    wait_port "$port" || { tail -5 "$T/$name.log" >&2; stop_all; return 1; }
}

want() { [[ $# -eq 0 ]] || [[ " ${SEL[*]} " == *" $1 "* ]]; }
SEL=("$@")
sel() { ((${#SEL[@]} == 0)) || [[ " ${SEL[*]} " == *" $1 "* ]]; }

if sel ssh; then
    mkdir -p /run/sshd
    run ssh 22 /usr/sbin/sshd -D -e -o ListenAddress=127.0.0.1 -p 22 &&
        capture ssh-openssh 22 none 2000 &&
        capture ssh-openssh-http-hello 22 http 0
    stop_all
fi

if sel nginx; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=lab.test \
        -keyout "$T/key.pem" -out "$T/cert.pem" 2>/dev/null
    cat >"$T/nginx.conf" <<CONF
pid $T/nginx.pid;
error_log $T/nginx-error.log;
events {}
http {
    access_log off;
    client_body_temp_path $T; proxy_temp_path $T; fastcgi_temp_path $T;
    uwsgi_temp_path $T; scgi_temp_path $T;
    ssl_certificate $T/cert.pem; ssl_certificate_key $T/key.pem;
    server { listen 127.0.0.1:80; }
    server { listen 127.0.0.1:443 ssl; ssl_protocols TLSv1.2 TLSv1.3; }
    server { listen 127.0.0.1:8412 ssl; ssl_protocols TLSv1.2; }
    server { listen 127.0.0.1:8411 ssl; ssl_protocols TLSv1.1; ssl_ciphers DEFAULT:@SECLEVEL=0; }
    server { listen 127.0.0.1:8410 ssl; ssl_protocols TLSv1; ssl_ciphers DEFAULT:@SECLEVEL=0; }
}
CONF
    if run nginx 80 nginx -c "$T/nginx.conf" -g 'daemon off;'; then
        capture http-nginx 80 http 0
        capture tls13-nginx 443 tls 0
        capture tls12-nginx 8412 tls 0
        capture tls11-nginx 8411 tls 0
        capture tls10-nginx 8410 tls 0
        capture http-nginx-https-port-http-hello 443 http 0
        capture http-nginx-redis-hello 80 redis 0
    fi
    stop_all
fi

if sel redis; then
    run redis 6379 redis-server --port 6379 --bind 127.0.0.1 --save '' --appendonly no \
        --protected-mode no --dir "$T" &&
        capture redis 6379 redis 0 &&
        capture redis-http-hello 6379 http 0 &&
        capture redis-tls-hello 6379 tls 0 &&
        capture redis-memcached-hello 6379 memcached 0 &&
        capture redis-irc-hello 6379 irc 0
    stop_all
    run redis-auth 6380 redis-server --port 6380 --bind 127.0.0.1 --save '' --appendonly no \
        --requirepass lab --dir "$T" &&
        capture redis-noauth 6380 redis 0
    stop_all
fi

if sel vsftpd; then
    mkdir -p /var/run/vsftpd/empty
    printf 'listen=YES\nlisten_address=127.0.0.1\nlisten_port=21\nbackground=NO\nanonymous_enable=NO\nlocal_enable=YES\nsecure_chroot_dir=/var/run/vsftpd/empty\nrun_as_launching_user=NO\n' >"$T/vsftpd.conf"
    run vsftpd 21 vsftpd "$T/vsftpd.conf" && capture ftp-vsftpd 21 none 2000 &&
        capture ftp-vsftpd-http-hello 21 http 0 &&
        capture ftp-vsftpd-redis-hello 21 redis 0
    stop_all
    # A greeting that names no protocol: only vsftpd's answer to the hello
    # (530 Please login with USER and PASS.) says FTP.
    printf 'ftpd_banner=Welcome\n' >>"$T/vsftpd.conf"
    run vsftpd-plain 21 vsftpd "$T/vsftpd.conf" &&
        capture ftp-vsftpd-plain-banner-http-hello 21 http 0
    stop_all
fi

if sel memcached; then
    run memcached 11211 memcached -u nobody -l 127.0.0.1 -p 11211 -U 0 &&
        capture memcached 11211 memcached 0 &&
        capture memcached-http-hello 11211 http 0 &&
        capture memcached-redis-hello 11211 redis 0
    stop_all
fi

if sel mosquitto; then
    printf 'listener 1883 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest stderr\n' >"$T/mq.conf"
    run mosquitto 1883 mosquitto -c "$T/mq.conf" && capture mqtt-mosquitto 1883 mqtt 0 &&
        capture mqtt-mosquitto-http-hello 1883 http 0
    stop_all
    printf 'listener 1884 127.0.0.1\nallow_anonymous false\npersistence false\nlog_dest stderr\n' >"$T/mq2.conf"
    run mosquitto-auth 1884 mosquitto -c "$T/mq2.conf" && capture mqtt-mosquitto-refused 1884 mqtt 0
    stop_all
fi

if sel smtpd; then
    printf 'listen on lo port 25\naction "local" mbox\nmatch from local for local action "local"\n' >"$T/smtpd.conf"
    chmod 600 "$T/smtpd.conf"
    run opensmtpd 25 smtpd -d -f "$T/smtpd.conf" && capture smtp-opensmtpd 25 none 2000 &&
        capture smtp-opensmtpd-http-hello 25 http 0 &&
        capture smtp-opensmtpd-memcached-hello 25 memcached 0
    stop_all
fi

if sel dovecot; then
    mkdir -p "$T/dovecot"
    cat >"$T/dovecot.conf" <<CONF
protocols = pop3 imap
listen = 127.0.0.1
base_dir = $T/dovecot
ssl = no
log_path = $T/dovecot.log
passdb {
  driver = static
  args = nopassword
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=/nonexistent
}
CONF
    if run dovecot 110 dovecot -F -c "$T/dovecot.conf"; then
        wait_port 143
        capture pop3-dovecot 110 none 2000
        capture imap-dovecot 143 none 2000
        capture pop3-dovecot-http-hello 110 http 0
        capture imap-dovecot-http-hello 143 http 0
    fi
    stop_all
fi

if sel telnetd; then
    run telnetd 23 socat TCP-LISTEN:23,bind=127.0.0.1,reuseaddr,fork EXEC:/usr/sbin/telnetd,nofork &&
        capture telnet-inetutils 23 none 2000 &&
        capture telnet-inetutils-http-hello 23 http 0
    stop_all
fi

if sel rsync; then
    printf 'use chroot = no\n[lab]\npath = %s\nread only = yes\n' "$T" >"$T/rsyncd.conf"
    run rsync 873 rsync --daemon --no-detach --address=127.0.0.1 --port=873 --config="$T/rsyncd.conf" &&
        capture rsync 873 none 2000
    stop_all
fi

if sel slapd; then
    run slapd 389 slapd -d 0 -h ldap://127.0.0.1:389/ -u openldap -g openldap &&
        capture ldap-slapd 389 ldap 0 &&
        capture ldap-slapd-http-hello 389 http 0
    stop_all
fi

if sel ngircd; then
    printf '[Global]\nName = irc.lab.test\nInfo = lab\nListen = 127.0.0.1\nPorts = 6667\nPidFile = %s/ngircd.pid\n[Options]\nPAM = no\nIdent = no\nDNS = no\n' "$T" >"$T/ngircd.conf"
    if run ngircd 6667 ngircd -n -f "$T/ngircd.conf"; then
        capture irc-ngircd 6667 irc 1500
        capture irc-ngircd-http-hello 6667 http 0
    fi
    stop_all
fi

if sel mariadb; then
    mkdir -p "$T/mysql"
    mariadb-install-db --no-defaults --datadir="$T/mysql" --user=root --auth-root-authentication-method=normal >"$T/mariadb-install.log" 2>&1
    run mariadb 3306 mariadbd --no-defaults --datadir="$T/mysql" --socket="$T/mysql.sock" \
        --pid-file="$T/mysql.pid" --port=3306 --bind-address=127.0.0.1 --user=root --skip-log-error &&
        capture mysql-mariadb 3306 none 2000
    stop_all
fi

if sel postgresql; then
    PG=/usr/lib/postgresql/15/bin
    mkdir -p "$T/pg" && chown postgres "$T/pg"
    runuser -u postgres -- "$PG/initdb" -D "$T/pg" --auth-host=scram-sha-256 --auth-local=trust >"$T/initdb.log" 2>&1
    run postgresql 5432 runuser -u postgres -- "$PG/postgres" -D "$T/pg" -k "$T/pg" -p 5432 \
        -c listen_addresses=127.0.0.1 &&
        capture postgresql-scram 5432 postgres 0 &&
        capture postgresql-http-hello 5432 http 0
    stop_all
    printf 'host all all 127.0.0.1/32 reject\n' >"$T/pg/pg_hba.conf"
    run postgresql-reject 5432 runuser -u postgres -- "$PG/postgres" -D "$T/pg" -k "$T/pg" -p 5432 \
        -c listen_addresses=127.0.0.1 &&
        capture postgresql-error 5432 postgres 0
    stop_all
fi

if sel vnc; then
    run tigervnc 5901 Xtigervnc :1 -rfbport 5901 -interface 127.0.0.1 -SecurityTypes None -nolisten tcp &&
        capture vnc-tigervnc 5901 none 2000
    stop_all
fi

if sel xrdp; then
    run xrdp 3389 xrdp --nodaemon --port 3389 && capture rdp-xrdp 3389 rdp 0 &&
        capture rdp-xrdp-http-hello 3389 http 0
    stop_all
fi

if sel samba; then
    mkdir -p "$T/samba"/{lock,state,cache,pid,priv}
    cat >"$T/smb.conf" <<CONF
[global]
interfaces = lo
bind interfaces only = yes
lock directory = $T/samba/lock
state directory = $T/samba/state
cache directory = $T/samba/cache
pid directory = $T/samba/pid
private dir = $T/samba/priv
ncalrpc dir = $T/samba/ncalrpc
disable netbios = yes
smb ports = 445
CONF
    run smbd 445 smbd --foreground --no-process-group -s "$T/smb.conf" && capture smb-samba 445 smb 0 &&
        capture smb-samba-http-hello 445 http 0
    stop_all
fi

if sel rabbitmq; then
    mkdir -p "$T/rabbit" && chown rabbitmq "$T/rabbit"
    in_ns hostname >/dev/null
    WAIT_TRIES=400 run rabbitmq 5672 env RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT=5672 \
        RABBITMQ_MNESIA_BASE="$T/rabbit" RABBITMQ_LOG_BASE="$T/rabbit" RABBITMQ_NODENAME=rabbit@localhost \
        HOME="$T/rabbit" rabbitmq-server &&
        capture amqp-rabbitmq 5672 amqp 0 &&
        capture amqp-rabbitmq-http-hello 5672 http 0
    stop_all
fi
echo done
