# lib.sh - shell pieces shared by compare.sh and largetree.sh (sourced).

# a free TCP port on 127.0.0.1
free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# $1 dir, $2 port: the zoo.cfg both servers get (forceSync=yes is the
# ZooKeeper default, written out so nobody wonders; snapCount is left at
# its default of 100000)
write_cfg() {
	mkdir -p "$1/data"
	cat >"$1/zoo.cfg" <<CFG
tickTime=2000
dataDir=$1/data
clientPort=$2
clientPortAddress=127.0.0.1
maxClientCnxns=0
forceSync=yes
admin.enableServer=false
4lw.commands.whitelist=*
CFG
}
