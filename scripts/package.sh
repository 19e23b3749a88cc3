#!/usr/bin/env bash
# Release packages of pg_socketio for database servers that have no Rust:
# for each PostgreSQL major (default: 15 16 17 18), a Debian package laid out as
# Debian's own extension packages are (postgresql-<major>-pg-socketio: the
# library in /usr/lib/postgresql/<major>/lib, the control and SQL files in
# /usr/share/postgresql/<major>/extension, depending on postgresql-<major>),
# and a tarball with the same files and an install note.
# Usage: [PG_MAJORS="15 16 17 18"] scripts/package.sh      → target/packages/
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/majors.env
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
ARCH=$(dpkg --print-architecture)
OUT=target/packages
mkdir -p "$OUT"
# dpkg-shlibdeps reads the libraries the package's library links to, and
# the versions of their symbols it uses, from a source tree's debian/control.
shlibs_tree=$(mktemp -d)
trap 'rm -rf "$shlibs_tree"' EXIT
mkdir "$shlibs_tree/debian"
printf 'Source: pg-socketio\n\nPackage: pg-socketio\nArchitecture: any\n' > "$shlibs_tree/debian/control"

for major in ${PG_MAJORS:-15 16 17 18}; do
  pg_config=$(pg_home "$major")/bin/pg_config
  build=target/package-build/pg$major
  rm -rf "$build"
  cargo pgrx package -p pg_socketio --pg-config "$pg_config" --out-dir "$build" \
      --no-default-features --features "pg$major" >&2
  # cargo pgrx package writes the files at the paths pg_config names (for
  # 16, 17 and 18, inside their folders under /opt); the packages use Debian's paths for the major.
  lib=$(realpath "$(find "$build" -name pg_socketio.so)")
  ext=$(dirname "$(find "$build" -name pg_socketio.control)")
  # What the library needs of the system, as Debian's own packages say it
  # (libc6 (>= 2.34), …): the glibc of the machine that built it.
  shlibs=$(cd "$shlibs_tree" && dpkg-shlibdeps -O "$lib" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
  glibc=$(sed -n 's/.*libc6 (>= \([0-9.]*\)).*/\1/p' <<<"$shlibs")

  name=postgresql-$major-pg-socketio
  root=target/package-build/$name
  rm -rf "$root"
  install -d "$root/DEBIAN" "$root/usr/lib/postgresql/$major/lib" \
      "$root/usr/share/postgresql/$major/extension" "$root/usr/share/doc/$name"
  install -m 644 "$lib" "$root/usr/lib/postgresql/$major/lib/"
  install -m 644 "$ext"/pg_socketio* "$root/usr/share/postgresql/$major/extension/"
  install -m 644 README.md "$root/usr/share/doc/$name/"
  cat > "$root/DEBIAN/control" <<EOF
Package: $name
Version: $VERSION-1
Architecture: $ARCH
Maintainer: pg_socketio developers <pg_socketio@localhost>
Depends: postgresql-$major, $shlibs
Section: database
Priority: optional
Installed-Size: $(du -sk "$root/usr" | cut -f1)
Description: Socket.IO events from PostgreSQL $major
 pg_socketio emits Socket.IO events from SQL and triggers to Node.js servers
 that use @socket.io/postgres-adapter, transactionally. Run
 CREATE EXTENSION pg_socketio; in a UTF8 database as a superuser.
EOF
  dpkg-deb --root-owner-group --build "$root" "$OUT/${name}_${VERSION}-1_$ARCH.deb" >&2

  tarball=pg_socketio-$VERSION-pg$major-linux-$ARCH
  rm -rf "target/package-build/$tarball"
  install -d "target/package-build/$tarball/lib" "target/package-build/$tarball/extension"
  install -m 644 "$lib" "target/package-build/$tarball/lib/"
  install -m 644 "$ext"/pg_socketio* "target/package-build/$tarball/extension/"
  cat > "target/package-build/$tarball/INSTALL.md" <<EOF
# pg_socketio $VERSION for PostgreSQL $major ($ARCH, glibc ≥ $glibc)

Copy the files into the server's directories, as root:

    install -m 644 lib/pg_socketio.so "\$(pg_config --pkglibdir)/"
    install -m 644 extension/* "\$(pg_config --sharedir)/extension/"

(\`pg_config\` of PostgreSQL $major.) Then, as a superuser, in a UTF8 database:

    CREATE EXTENSION pg_socketio;

For the cleanup worker, add pg_socketio to shared_preload_libraries and
restart. Upgrading: copy the new files, then ALTER EXTENSION pg_socketio UPDATE.
EOF
  tar -C target/package-build -czf "$OUT/$tarball.tar.gz" "$tarball"
  echo "$OUT/${name}_${VERSION}-1_$ARCH.deb"
  echo "$OUT/$tarball.tar.gz"
done
