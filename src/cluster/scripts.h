/* scripts: the Lua run inside Redis. Each is atomic there, which is what
 * makes the cluster's guarantees hold: a message gets its id, its history
 * entry, its offline copy (decided against presence at that instant) and its
 * publication in one step, so every instance sees messages in id order. */
#ifndef NOTIFYD_CLUSTER_SCRIPTS_H
#define NOTIFYD_CLUSTER_SCRIPTS_H

// clang-format off: Lua, one line per line

#define LUA_ALIVE "local function alive(i) return redis.call('EXISTS','notifyd:alive:'..i)==1 end\n"
#define LUA_NOW                                                                                    \
    "local t=redis.call('TIME') local now=tonumber(t[1])*1000+math.floor(tonumber(t[2])/1000)\n"

/* The feed (SPEC §7d). f:<user> (f:* the broadcasts' shared items) is a
 * sorted set of item ids, all of score 0: ids are 16 hex digits, so their
 * lexical order is their order; fb:<id> the envelope, expiring with the
 * item; fs:<user> the user's state of each item (bits: 1 seen, 2 read,
 * 4 archived; absent = 0), own and shared alike. */
/* the oldest id kept (of local fttl, ms) */
#define LUA_FEED_FLOOR "local floor=string.format('%012x0000',math.max(now-fttl,0))\n"

/* in the publish script: item hex of the user (or everyone), trimmed by age and count */
#define LUA_FEED_PUT                                                                               \
    "local fk,fttl='notifyd:f:'..(user~='' and user or '*'),tonumber(ARGV[13])\n" LUA_FEED_FLOOR   \
    "redis.call('ZADD',fk,0,hex)\n"                                                                \
    "redis.call('SET','notifyd:fb:'..hex,json,'PX',fttl)\n"                                        \
    "local gone=redis.call('ZRANGEBYLEX',fk,'-','('..floor)\n"                                     \
    "local over=redis.call('ZCARD',fk)-#gone-tonumber(ARGV[12])\n"                                 \
    "if over>0 then\n"                                                                             \
    "  for _,o in ipairs(redis.call('ZRANGE',fk,#gone,#gone+over-1)) do gone[#gone+1]=o end\n"     \
    "end\n"                                                                                        \
    "for _,o in ipairs(gone) do\n"                                                                 \
    "  redis.call('ZREM',fk,o) redis.call('DEL','notifyd:fb:'..o)\n"                               \
    "  if user~='' then redis.call('HDEL','notifyd:fs:'..user,o) end\n"                            \
    "end\n"                                                                                        \
    "redis.call('PEXPIRE',fk,fttl)\n"

/* ARGV: template id, its JSON ("" = delete). Change numbers order the
 * changes; every instance applies them from the channel. Returns the number. */
static const char SCRIPT_TEMPLATE[] =
    "local v=redis.call('HINCRBY','notifyd:tv','v',1)\n"
    "if ARGV[2]=='' then redis.call('HDEL','notifyd:templates',ARGV[1])\n"
    "else redis.call('HSET','notifyd:templates',ARGV[1],ARGV[2]) end\n"
    "redis.call('PUBLISH','notifyd:tpl',v..' '..ARGV[1]..'\\n'..ARGV[2])\n"
    "return v\n";

/* Every template as of the last change: {number, [id, json, ...]}. */
static const char SCRIPT_TEMPLATES_LOAD[] = "return {redis.call('HGET','notifyd:tv','v') or "
                                            "'0',redis.call('HGETALL','notifyd:templates')}\n";

/* ARGV: user ("" = everyone), envelope ending in the message_id placeholder,
 * important, history max, history ttl ms, offline max, offline ttl ms, the
 * header's fields before the user and after it (wire.h), this message's
 * offline ttl ms (at most the offline ttl: the stream is trimmed by that),
 * feed (1/0), feed max per user, feed ttl ms.
 * An offline entry carries its expiry (x, unix ms) after the envelope (m).
 * Returns {hex id, stored, connections}. */
static const char SCRIPT_PUBLISH[] = LUA_NOW LUA_ALIVE
    "local user,json=ARGV[1],ARGV[2]\n"
    "local c=redis.call('HMGET','notifyd:clock','ms','seq')\n"
    "local ms,seq=tonumber(c[1]) or 0,tonumber(c[2]) or 0\n"
    "if now>ms then ms=now seq=0 else seq=seq+1 end\n"
    "redis.call('HSET','notifyd:clock','ms',ms,'seq',seq)\n"
    "local sid=ms..'-'..seq\n"
    "local hex=string.format('%012x%04x',ms,seq)\n"
    "json=string.sub(json,1,-19)..hex..'\"}'\n"
    "local hist='notifyd:h:'..(user~='' and user or '*')\n"
    "local hmax,httl=tonumber(ARGV[4]),tonumber(ARGV[5])\n"
    "if hmax>0 then\n"
    "  redis.call('XADD',hist,'MAXLEN',hmax,sid,'m',json)\n"
    "  redis.call('XTRIM',hist,'MINID',(now-httl)..'-0')\n"
    "  redis.call('PEXPIRE',hist,2*httl)\n"
    "end\n"
    "local conns,nonack=0,0\n"
    "if user~='' then\n"
    "  local p=redis.call('HGETALL','notifyd:p:'..user)\n"
    "  for i=1,#p,2 do\n"
    "    local inst,n=string.match(p[i],'^([^:]+)(:?n?)$')\n"
    "    if inst and alive(inst) then\n"
    "      if n==':n' then nonack=nonack+tonumber(p[i+1]) else conns=conns+tonumber(p[i+1]) end\n"
    "    end\n"
    "  end\n"
    "else\n"
    "  for _,inst in ipairs(redis.call('SMEMBERS','notifyd:instances')) do\n"
    "    if alive(inst) then\n"
    "      conns=conns+(tonumber(redis.call('HGET','notifyd:i:'..inst,'conns')) or 0)\n"
    "    end\n"
    "  end\n"
    "end\n"
    "local stored=0\n"
    "if ARGV[3]=='1' and user~='' and nonack==0 then\n"
    "  local off='notifyd:o:'..user\n"
    "  redis.call('XADD',off,'MAXLEN',tonumber(ARGV[6]),sid,'m',json,'x',now+tonumber(ARGV[10]))\n"
    "  redis.call('XTRIM',off,'MINID',(now-tonumber(ARGV[7]))..'-0')\n"
    "  redis.call('PEXPIRE',off,tonumber(ARGV[7]))\n"
    "  stored=1\n"
    "end\n"
    "if ARGV[11]=='1' then\n" LUA_FEED_PUT "end\n"
    "redis.call('PUBLISH','notifyd:messages',"
    "hex..' '..ARGV[8]..' '..(user~='' and user or '*')..ARGV[9]..'\\n'..json)\n"
    "return {hex,stored,conns}\n";

/* ARGV: user, payload, the header's fields before the user and after it
 * (wire.h). An operation for every instance about one user's connections,
 * not a message: no id (zeros), history or offline copy. Returns the user's
 * connections on live instances. */
static const char SCRIPT_TELL[] =
    LUA_ALIVE "local user,n=ARGV[1],0\n"
              "local p=redis.call('HGETALL','notifyd:p:'..user)\n"
              "for i=1,#p,2 do\n"
              "  local inst,x=string.match(p[i],'^([^:]+)(:?n?)$')\n"
              "  if inst and x=='' and alive(inst) then n=n+tonumber(p[i+1]) end\n"
              "end\n"
              "redis.call('PUBLISH','notifyd:messages',"
              "'0000000000000000 '..ARGV[3]..' '..user..ARGV[4]..'\\n'..ARGV[2])\n"
              "return n\n";

/* ARGV: user, instance, delta, nonack (1/0). Keeps p:<user>, u:<inst>, i:<inst>. */
static const char SCRIPT_PRESENCE[] =
    "local p,inst,d='notifyd:p:'..ARGV[1],ARGV[2],tonumber(ARGV[3])\n"
    "if redis.call('HINCRBY',p,inst,d)<=0 then\n"
    "  redis.call('HDEL',p,inst) redis.call('SREM','notifyd:u:'..inst,ARGV[1])\n"
    "else redis.call('SADD','notifyd:u:'..inst,ARGV[1]) end\n"
    "if ARGV[4]=='1' and redis.call('HINCRBY',p,inst..':n',d)<=0 then\n"
    "  redis.call('HDEL',p,inst..':n')\n"
    "end\n"
    "return redis.call('HINCRBY','notifyd:i:'..inst,'conns',d)\n";

/* ARGV: instance, then (user, conns, nonack)*: this instance's presence, afresh */
static const char SCRIPT_RESET[] =
    "local inst=ARGV[1]\n"
    "for _,u in ipairs(redis.call('SMEMBERS','notifyd:u:'..inst)) do\n"
    "  redis.call('HDEL','notifyd:p:'..u,inst,inst..':n')\n"
    "end\n"
    "redis.call('DEL','notifyd:u:'..inst)\n"
    "local total=0\n"
    "for i=2,#ARGV,3 do\n"
    "  local u,c,n=ARGV[i],tonumber(ARGV[i+1]),tonumber(ARGV[i+2])\n"
    "  redis.call('HSET','notifyd:p:'..u,inst,c)\n"
    "  if n>0 then redis.call('HSET','notifyd:p:'..u,inst..':n',n) end\n"
    "  redis.call('SADD','notifyd:u:'..inst,u)\n"
    "  total=total+c\n"
    "end\n"
    "redis.call('HSET','notifyd:i:'..inst,'conns',total)\n"
    "return total\n";

/* ARGV: instance, ttl ms: this instance is alive */
static const char SCRIPT_HEARTBEAT[] =
    "redis.call('SET','notifyd:alive:'..ARGV[1],'1','PX',tonumber(ARGV[2]))\n"
    "redis.call('SADD','notifyd:instances',ARGV[1])\n"
    "return 1\n";

/* forgets instances whose heartbeat expired, with their presence */
static const char SCRIPT_JANITOR[] =
    LUA_ALIVE "local gone=0\n"
              "for _,inst in ipairs(redis.call('SMEMBERS','notifyd:instances')) do\n"
              "  if not alive(inst) then\n"
              "    for _,u in ipairs(redis.call('SMEMBERS','notifyd:u:'..inst)) do\n"
              "      redis.call('HDEL','notifyd:p:'..u,inst,inst..':n')\n"
              "    end\n"
              "    redis.call('DEL','notifyd:u:'..inst,'notifyd:i:'..inst)\n"
              "    redis.call('SREM','notifyd:instances',inst)\n"
              "    gone=gone+1\n"
              "  end\n"
              "end\n"
              "return gone\n";

/* ARGV: instance. A clean stop: its heartbeat and presence go at once. */
static const char SCRIPT_LEAVE[] =
    "local inst=ARGV[1]\n"
    "redis.call('DEL','notifyd:alive:'..inst)\n"
    "for _,u in ipairs(redis.call('SMEMBERS','notifyd:u:'..inst)) do\n"
    "  redis.call('HDEL','notifyd:p:'..u,inst,inst..':n')\n"
    "end\n"
    "redis.call('DEL','notifyd:u:'..inst,'notifyd:i:'..inst)\n"
    "redis.call('SREM','notifyd:instances',inst)\n"
    "return 1\n";

/* returns {connections, {users...}} for the live instances */
static const char SCRIPT_STATS[] =
    LUA_ALIVE "local total,sets=0,{}\n"
              "for _,inst in ipairs(redis.call('SMEMBERS','notifyd:instances')) do\n"
              "  if alive(inst) then\n"
              "    total=total+(tonumber(redis.call('HGET','notifyd:i:'..inst,'conns')) or 0)\n"
              "    table.insert(sets,'notifyd:u:'..inst)\n"
              "  end\n"
              "end\n"
              "local users={}\n"
              "if #sets>0 then users=redis.call('SUNION',unpack(sets)) end\n"
              "return {total,users}\n";

/* ARGV: user. Returns the user's connections on live instances. */
static const char SCRIPT_ONLINE[] =
    LUA_ALIVE "local n=0\n"
              "local p=redis.call('HGETALL','notifyd:p:'..ARGV[1])\n"
              "for i=1,#p,2 do\n"
              "  local inst,x=string.match(p[i],'^([^:]+)(:?n?)$')\n"
              "  if inst and x=='' and alive(inst) then n=n+tonumber(p[i+1]) end\n"
              "end\n"
              "return n\n";

/* ARGV: user, offline ttl ms. The user's offline entries not past their own
 * expiry: {count, oldest "ms-seq" or "", newest or ""}. */
static const char SCRIPT_BACKLOG[] = LUA_NOW
    "local n,first,last=0,'',''\n"
    "for _,e in "
    "ipairs(redis.call('XRANGE','notifyd:o:'..ARGV[1],(now-tonumber(ARGV[2]))..'-0','+')) do\n"
    "  local f,live=e[2],true\n"
    "  for i=1,#f,2 do if f[i]=='x' and tonumber(f[i+1])<=now then live=false end end\n"
    "  if live then n=n+1 if first=='' then first=e[1] end last=e[1] end\n"
    "end\n"
    "return {n,first,last}\n";

/* ARGV: user, has since (1/0), since "ms-seq", history on (1/0), history ttl
 * ms, offline ttl ms. Returns {complete, offline entries (not past their own
 * expiry), user history,
 * broadcast history, clock}: entries as XRANGE gives them; clock = the last
 * id given out, so anything at or below it that is not listed here was
 * published before this read and is not owed. */
static const char SCRIPT_RESUME[] =
    LUA_NOW "local user=ARGV[1]\n"
            "local c=redis.call('HMGET','notifyd:clock','ms','seq')\n"
            "local clock=(c[1] or '0')..'-'..(c[2] or '0')\n"
            "local off={}\n"
            "for _,e in "
            "ipairs(redis.call('XRANGE','notifyd:o:'..user,(now-tonumber(ARGV[6]))..'-0','+')) do\n"
            "  local f,live=e[2],true\n"
            "  for i=1,#f,2 do if f[i]=='x' and tonumber(f[i+1])<=now then live=false end end\n"
            "  if live then table.insert(off,e) end\n"
            "end\n"
            "if ARGV[2]~='1' then return {1,off,{},{},clock} end\n"
            "if ARGV[4]~='1' then return {0,off,{},{},clock} end\n"
            "local since=ARGV[3]\n"
            "local sms,sseq=string.match(since,'^(%d+)-(%d+)$')\n"
            "sms,sseq=tonumber(sms),tonumber(sseq)\n"
            "local function covered(key)\n"
            "  if redis.call('EXISTS',key)==0 then return sms>=now-tonumber(ARGV[5]) end\n"
            "  local info=redis.call('XINFO','STREAM',key)\n"
            "  for i=1,#info,2 do\n"
            "    if info[i]=='max-deleted-entry-id' then\n"
            "      local dms,dseq=string.match(info[i+1],'^(%d+)-(%d+)$')\n"
            "      dms,dseq=tonumber(dms),tonumber(dseq)\n"
            "      return sms>dms or (sms==dms and sseq>=dseq)\n"
            "    end\n"
            "  end\n"
            "  return true\n"
            "end\n"
            "local hu,hb='notifyd:h:'..user,'notifyd:h:*'\n"
            "local complete=(covered(hu) and covered(hb)) and 1 or 0\n"
            "return {complete,off,redis.call('XRANGE',hu,'('..since,'+'),"
            "redis.call('XRANGE',hb,'('..since,'+'),clock}\n";

/* ARGV: user, what ('l' list, 'c' counts, 'm' mark), feed max per user, feed
 * ttl ms, before (16 hex or ''), limit, filter (0 inbox, 1 unread, 2
 * archived, 3 all), action (0 seen, 1 read, 2 unread, 3 archive, 4
 * unarchive), all (1/0), then the ids to mark. The user's window: the newest
 * `max` of their items and the shared ones not past the ttl, newest first.
 * Returns l: {next_before or '', {id, flags, envelope, ...}};
 * c: {total, unseen, unread}; m: {total, unseen, unread, updated}. */
static const char SCRIPT_FEED[] = LUA_NOW
    "local user,what,max,fttl=ARGV[1],ARGV[2],tonumber(ARGV[3]),tonumber(ARGV[4])\n" LUA_FEED_FLOOR
    "local fu,fa='notifyd:f:'..user,'notifyd:f:*'\n"
    "local own=redis.call('ZREVRANGEBYLEX',fu,'+','('..floor,'LIMIT',0,max)\n"
    "local all=redis.call('ZREVRANGEBYLEX',fa,'+','('..floor,'LIMIT',0,max)\n"
    "local w,i,j={},1,1\n"
    "while #w<max and (i<=#own or j<=#all) do\n"
    "  if j>#all or (i<=#own and own[i]>all[j]) then w[#w+1]=own[i] i=i+1\n"
    "  else w[#w+1]=all[j] j=j+1 end\n"
    "end\n"
    "local sk,fl='notifyd:fs:'..user,{}\n"
    "for k=1,#w,500 do\n"
    "  local v=redis.call('HMGET',sk,unpack(w,k,math.min(k+499,#w)))\n"
    "  for x=1,#v do fl[k+x-1]=tonumber(v[x]) or 0 end\n"
    "end\n"
    "local function counts()\n"
    "  local t,s,r=0,0,0\n"
    "  for k=1,#w do\n"
    "    local f=fl[k]\n"
    "    if bit.band(f,4)==0 then\n"
    "      t=t+1\n"
    "      if bit.band(f,1)==0 then s=s+1 end\n"
    "      if bit.band(f,2)==0 then r=r+1 end\n"
    "    end\n"
    "  end\n"
    "  return t,s,r\n"
    "end\n"
    "if what=='c' then return {counts()} end\n"
    "if what=='l' then\n"
    "  local before,limit,flt=ARGV[5],tonumber(ARGV[6]),ARGV[7]\n"
    "  local out,got,last={},0,''\n"
    "  for k=1,#w do\n"
    "    local f=fl[k]\n"
    "    local m=(flt=='0' and bit.band(f,4)==0) or (flt=='1' and bit.band(f,6)==0) or\n"
    "            (flt=='2' and bit.band(f,4)~=0) or flt=='3'\n"
    "    if m and (before=='' or w[k]<before) then\n"
    "      if got==limit then return {last,out} end\n"
    "      local b=redis.call('GET','notifyd:fb:'..w[k])\n"
    "      if b then\n"
    "        out[#out+1]=w[k] out[#out+1]=f out[#out+1]=b got=got+1 last=w[k]\n"
    "      end\n"
    "    end\n"
    "  end\n"
    "  return {'',out}\n"
    "end\n"
    "local action,every,want=ARGV[8],ARGV[9]=='1',{}\n"
    "for k=10,#ARGV do want[ARGV[k]]=true end\n"
    "local n=0\n"
    "for k=1,#w do\n"
    "  if every or want[w[k]] then\n"
    "    local f=fl[k]\n"
    "    local t=f\n"
    "    if action=='0' then t=bit.bor(f,1) elseif action=='1' then t=bit.bor(f,3)\n"
    "    elseif action=='2' then t=bit.band(f,5) elseif action=='3' then t=bit.bor(f,4)\n"
    "    else t=bit.band(f,3) end\n"
    "    if t~=f then\n"
    "      fl[k]=t n=n+1\n"
    "      if t==0 then redis.call('HDEL',sk,w[k]) else redis.call('HSET',sk,w[k],t) end\n"
    "    end\n"
    "  end\n"
    "end\n"
    "if n>0 then redis.call('PEXPIRE',sk,fttl) end\n"
    "local t,s,r=counts()\n"
    "return {t,s,r,n}\n";

// clang-format on

#endif
