"""Static vocabulary of the synthetic generator: genres, word pools, regions, tags.

The per-genre audio profile below holds rounded per-genre *summary statistics* (means)
of the public Spotify Tracks dataset, so synthetic features sit where real ones do; no
row of any real dataset is stored here. Every name (artist, title, album) is invented
from the word pools at generation time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _split(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# ----------------------------------------------------------------------------- genres

# genre, family, scene, mainstream (0-3), pool, popularity, duration (s), danceability,
# energy, loudness, speechiness, acousticness, instrumentalness, liveness, valence,
# tempo, P(explicit), P(mode = major)
_GENRE_TABLE = """
acoustic          folk       global  1 en        42 215 .54 .43  -9.3 .042 .59  .056  .16 .41 113 .05 .82
afrobeat          urban      global  1 urban     23 239 .69 .71  -7.5 .086 .27  .28   .19 .71 116 .03 .47
alt-rock          rock       global  1 en        26 226 .52 .77  -6.1 .055 .12  .051  .23 .53 126 .05 .69
alternative       rock       global  2 en        22 219 .54 .76  -5.5 .079 .13  .029  .21 .53 128 .17 .60
ambient           calm       niche   0 calm      43 220 .38 .23 -18.5 .040 .80  .68   .14 .19 117 .01 .54
anime             jpop       japan   1 ja        48 207 .53 .66  -7.8 .073 .26  .27   .20 .44 119 .02 .48
black-metal       metal      niche   0 dark      23 295 .28 .89  -6.4 .086 .023 .41   .27 .18 128 .17 .55
bluegrass         country    niche   0 country   26 217 .53 .52  -9.9 .037 .57  .15   .23 .63 126 .01 .89
blues             jazz       global  0 en        31 222 .58 .57  -8.3 .063 .41  .058  .18 .62 118 .01 .74
brazil            brazil     brazil  2 pt        45 281 .57 .60  -7.9 .10  .38  .004  .29 .45 122 .09 .70
breakbeat         electronic global  0 club      21 322 .63 .84  -6.0 .082 .023 .45   .21 .42 135 .06 .74
british           rock       global  1 en        40 210 .50 .49 -10.1 .045 .43  .17   .16 .41 125 .03 .67
cantopop          cpop       chinese 1 zh        36 233 .54 .44 -10.0 .037 .58  .008  .21 .37 126 .00 .77
chicago-house     electronic global  0 club      13 424 .77 .72  -9.4 .069 .041 .47   .15 .59 123 .01 .43
children          kids       niche   0 kids      36 133 .73 .52  -9.1 .10  .52  .079  .17 .71 124 .00 .84
chill             calm       global  2 calm      52 170 .64 .46 -10.1 .10  .46  .14   .17 .41 111 .14 .69
classical         calm       niche   0 classical 17 237 .37 .18 -20.4 .050 .93  .59   .18 .38 114 .00 .78
club              electronic global  1 club      32 199 .58 .67  -7.5 .091 .21  .38   .20 .35 124 .05 .72
comedy            kids       niche   0 comedy    24 243 .58 .69 -10.6 .79  .77  .0001 .69 .48 103 .67 .66
country           country    global  2 country   13 205 .55 .62  -7.1 .046 .31  .011  .19 .52 124 .01 .91
dance             electronic global  3 club      23 208 .70 .72  -5.2 .082 .11  .022  .15 .58 124 .23 .56
dancehall         urban      global  1 urban     33 198 .75 .69  -6.3 .18  .21  .0065 .15 .65 113 .26 .48
death-metal       metal      niche   0 dark      34 237 .36 .93  -5.5 .12  .013 .24   .24 .23 126 .27 .59
deep-house        electronic global  1 club      42 210 .71 .76  -6.6 .067 .092 .22   .14 .46 122 .00 .56
detroit-techno    electronic niche   0 club      11 343 .72 .70 -11.6 .064 .09  .69   .14 .49 128 .00 .42
disco             electronic global  1 club      30 236 .69 .78  -6.8 .058 .14  .15   .21 .70 122 .01 .70
disney            kids       global  1 kids      27 154 .47 .26 -15.2 .066 .77  .39   .18 .35 111 .00 .85
drum-and-bass     electronic global  0 club      29 271 .53 .86  -4.3 .080 .028 .40   .21 .28 172 .03 .41
dub               urban      niche   0 urban     41 247 .58 .71  -5.9 .11  .13  .11   .17 .40 130 .03 .59
dubstep           electronic global  1 club      40 219 .50 .77  -4.9 .089 .12  .061  .21 .28 140 .09 .62
edm               electronic global  3 club      35 195 .65 .74  -5.4 .071 .10  .052  .18 .46 126 .06 .50
electro           electronic global  1 club      35 189 .65 .65  -6.4 .082 .22  .031  .15 .45 127 .20 .44
electronic        electronic global  2 club      45 241 .66 .74  -6.8 .079 .16  .24   .18 .41 124 .10 .44
emo               rock       global  1 en        46 185 .63 .67  -6.5 .12  .21  .008  .17 .46 128 .47 .56
folk              folk       global  1 en        38 262 .55 .55  -9.1 .056 .46  .035  .18 .51 115 .00 .70
forro             brazil     brazil  2 pt        42 196 .65 .78  -5.0 .060 .40  .0005 .33 .75 138 .01 .66
french            pop        france  2 fr        42 216 .66 .57  -8.7 .18  .38  .11   .18 .44 121 .25 .53
funk              urban      global  1 urban     33 227 .69 .65  -6.6 .14  .28  .006  .18 .59 121 .31 .60
garage            rock       global  0 en        39 197 .50 .78  -6.1 .076 .17  .15   .19 .53 127 .11 .64
german            pop        germany 2 de        25 222 .53 .54 -11.1 .12  .40  .27   .23 .37 118 .15 .59
gospel            jazz       global  0 en        42 326 .47 .58  -7.2 .038 .40  .0045 .29 .33 127 .00 .81
goth              rock       niche   0 dark      29 254 .47 .75  -6.9 .071 .17  .12   .23 .43 125 .07 .50
grindcore         metal      niche   0 dark      15 133 .27 .94  -6.0 .15  .004 .53   .28 .18 122 .12 .67
groove            urban      global  1 urban     37 266 .59 .74  -6.7 .068 .14  .10   .25 .39 123 .08 .50
grunge            rock       global  1 en        50 237 .45 .80  -5.5 .061 .053 .029  .20 .42 134 .09 .68
guitar            calm       niche   0 calm      28 210 .53 .33 -13.7 .047 .77  .44   .13 .44 109 .00 .75
happy             pop        global  1 en        22 261 .54 .92  -5.3 .13  .074 .27   .34 .25 149 .11 .51
hard-rock         rock       global  1 en        39 254 .50 .81  -6.4 .063 .084 .035  .24 .54 125 .02 .65
hardcore          metal      niche   0 dark      35 212 .54 .84  -5.8 .15  .062 .054  .27 .50 122 .34 .54
hardstyle         electronic global  0 club      27 223 .53 .91  -4.3 .12  .046 .17   .25 .33 150 .07 .47
heavy-metal       metal      global  0 dark      26 248 .42 .88  -5.7 .078 .017 .073  .26 .39 130 .11 .62
hip-hop           urban      global  3 urban     47 217 .74 .71  -5.6 .15  .18  .005  .21 .54 110 .29 .51
honky-tonk        country    niche   0 country   17 157 .57 .34 -11.9 .036 .77  .048  .18 .64 114 .00 .97
house             electronic global  2 club      35 183 .68 .77  -5.2 .071 .10  .045  .18 .49 124 .15 .44
idm               electronic niche   0 club      16 268 .52 .55 -12.5 .074 .40  .67   .17 .29 120 .00 .61
indian            pop        india   2 hi        49 245 .58 .54  -9.3 .075 .53  .043  .19 .45 119 .01 .74
indie             rock       global  2 en        43 216 .57 .57  -8.3 .060 .36  .060  .16 .47 125 .06 .77
indie-pop         pop        global  2 en        41 198 .61 .57  -7.6 .066 .36  .030  .19 .45 118 .07 .71
industrial        metal      niche   0 dark      31 260 .52 .85  -6.4 .085 .055 .20   .22 .40 124 .18 .59
iranian           world      iran    0 fa         1 330 .29 .60 -11.6 .11  .35  .52   .21 .16 118 .12 .55
j-dance           jpop       japan   1 ja        28 190 .68 .70  -6.3 .22  .23  .053  .18 .58 117 .33 .59
j-idol            jpop       japan   1 ja        24 248 .54 .88  -3.8 .074 .14  .060  .24 .58 141 .00 .75
j-pop             jpop       japan   2 ja        42 240 .53 .72  -5.7 .057 .25  .020  .20 .54 124 .01 .75
j-rock            jpop       japan   1 ja        38 239 .50 .76  -5.8 .073 .19  .018  .24 .51 130 .01 .65
jazz              jazz       global  0 en        13 192 .51 .36 -11.5 .049 .72  .071  .18 .51 114 .00 .76
k-pop             kpop       korea   3 ko        57 240 .64 .67  -6.2 .088 .31  .013  .20 .57 120 .02 .41
kids              kids       niche   0 kids      13 157 .78 .57  -8.5 .16  .23  .018  .17 .66 122 .00 .76
latin             latin      latin   3 es         6 219 .72 .75  -5.0 .099 .17  .006  .15 .66 117 .15 .57
latino            latin      latin   3 es        21 211 .76 .73  -5.2 .13  .15  .003  .18 .62 119 .23 .46
malay             pop        malay   1 ms        31 240 .62 .55  -8.5 .070 .43  .002  .19 .48 121 .06 .47
mandopop          cpop       chinese 2 zh        46 257 .54 .50  -8.3 .038 .47  .011  .16 .37 128 .02 .78
metal             metal      global  1 dark      43 239 .48 .84  -5.3 .068 .031 .035  .20 .47 127 .15 .64
metalcore         metal      niche   0 dark      46 227 .43 .91  -4.6 .11  .004 .081  .26 .31 130 .39 .63
minimal-techno    electronic niche   0 club      34 360 .73 .69 -10.0 .061 .095 .76   .16 .26 126 .00 .46
mpb               brazil     brazil  1 pt        41 228 .56 .57  -9.6 .058 .51  .010  .38 .58 122 .00 .73
new-age           calm       niche   0 calm      31 294 .37 .22 -19.0 .047 .84  .74   .26 .20 107 .00 .62
opera             calm       niche   0 it        26 227 .31 .35 -12.6 .049 .79  .15   .22 .23 105 .00 .73
pagode            brazil     brazil  2 pt        45 231 .57 .74  -6.8 .077 .55  .001  .55 .66 127 .03 .70
party             electronic global  2 club      20 204 .65 .90  -4.3 .090 .081 .0008 .30 .68 133 .02 .83
piano             calm       niche   0 calm      45 204 .48 .36 -16.0 .049 .66  .49   .15 .35 118 .04 .72
pop               pop        global  3 en        44 223 .63 .61  -7.1 .085 .36  .022  .14 .49 122 .09 .52
pop-film          pop        india   2 hi        60 277 .60 .60  -7.6 .061 .45  .005  .16 .51 116 .00 .53
power-pop         pop        global  0 en        29 183 .46 .81  -6.4 .058 .058 .039  .23 .64 137 .01 .84
progressive-house electronic global  1 club      47 213 .62 .83  -5.2 .074 .059 .17   .25 .38 126 .04 .41
psych-rock        rock       niche   0 en        43 233 .53 .52 -10.0 .048 .39  .066  .18 .61 124 .04 .68
punk              rock       global  0 en        36 207 .50 .79  -5.8 .059 .12  .019  .23 .55 129 .11 .70
punk-rock         rock       global  0 en        40 213 .52 .83  -5.7 .068 .078 .023  .23 .59 134 .08 .69
r-n-b             urban      global  2 urban     34 221 .59 .66  -7.6 .093 .39  .010  .25 .64 129 .11 .75
reggae            urban      global  1 urban     21 214 .75 .71  -5.7 .12  .17  .005  .18 .67 123 .18 .51
reggaeton         latin      latin   3 es        25 213 .75 .74  -5.0 .13  .17  .0003 .18 .64 121 .20 .51
rock              rock       global  2 en        14 215 .52 .68  -7.0 .056 .20  .038  .15 .52 127 .04 .72
rock-n-roll       country    global  0 country   37 172 .56 .53  -9.5 .050 .57  .014  .23 .68 119 .00 .92
rockabilly        country    niche   0 country   32 178 .57 .68  -7.9 .060 .42  .014  .24 .71 123 .00 .82
romance           world      niche   0 es         5 205 .43 .30 -13.7 .063 .86  .063  .23 .42 110 .01 .26
sad               pop        global  2 en        52 156 .69 .46 -10.3 .12  .43  .11   .15 .38 123 .44 .52
salsa             latin      latin   1 es        28 267 .67 .73  -7.1 .056 .49  .006  .18 .84 121 .01 .54
samba             brazil     brazil  1 pt        38 240 .57 .69  -8.3 .087 .44  .006  .44 .68 118 .00 .72
sertanejo         brazil     brazil  2 pt        48 207 .60 .70  -5.5 .060 .43  .00001 .50 .61 125 .00 .84
show-tunes        kids       niche   0 kids      32 205 .46 .38 -11.0 .090 .66  .037  .19 .36 114 .01 .82
singer-songwriter folk       global  1 en        40 210 .55 .39 -10.1 .053 .61  .020  .14 .38 116 .06 .86
ska               rock       niche   0 en        36 228 .55 .79  -6.7 .069 .082 .031  .24 .69 132 .03 .68
sleep             calm       niche   0 calm      32 159 .16 .42 -22.5 .054 .63  .72   .40 .045 81 .00 .70
songwriter        folk       global  1 en        37 209 .55 .40 -10.1 .049 .57  .020  .14 .40 115 .04 .79
soul              jazz       global  1 urban     22 198 .63 .52  -8.7 .065 .38  .011  .19 .54 112 .12 .64
spanish           latin      latin   2 es        40 217 .62 .72  -6.3 .081 .21  .004  .20 .57 121 .02 .58
study             calm       niche   0 calm      26 133 .69 .42 -10.7 .095 .55  .79   .17 .41 88  .00 .56
swedish           pop        sweden  2 sv        37 211 .62 .64  -7.6 .063 .27  .011  .23 .61 124 .12 .75
synth-pop         pop        global  1 en        38 252 .59 .70  -8.3 .048 .15  .092  .21 .56 125 .00 .56
tango             latin      latin   0 es        20 184 .55 .37  -9.8 .070 .85  .20   .21 .63 115 .00 .49
techno            electronic global  1 club      39 300 .68 .74  -7.7 .063 .079 .56   .16 .34 128 .05 .48
trance            electronic global  1 club      37 263 .60 .86  -6.0 .081 .043 .41   .23 .26 136 .03 .46
trip-hop          electronic niche   0 club      35 303 .65 .63  -9.9 .061 .23  .37   .15 .45 95  .03 .38
turkish           pop        turkey  2 tr        40 208 .60 .58  -9.1 .11  .32  .069  .17 .39 126 .21 .35
world-music       world      niche   0 en        39 287 .40 .51 -11.0 .040 .30  .15   .26 .24 120 .00 .85
"""

FEATURES_01 = ("danceability", "energy", "speechiness", "acousticness", "valence", "liveness")


@dataclass(frozen=True)
class GenreTable:
    names: tuple[str, ...]
    family: np.ndarray  # str
    scene: np.ndarray  # str
    mainstream: np.ndarray  # int
    pool: np.ndarray  # str: title/name word pool
    popularity: np.ndarray
    duration_s: np.ndarray
    mean01: np.ndarray  # (G, 6) in FEATURES_01 order
    loudness: np.ndarray
    instrumentalness: np.ndarray
    tempo: np.ndarray
    explicit: np.ndarray
    major: np.ndarray

    def __len__(self) -> int:
        return len(self.names)

    def index(self, name: str) -> int:
        return self.names.index(name)


def _parse_genres() -> GenreTable:
    rows = [line.split() for line in _GENRE_TABLE.strip().splitlines()]
    cols = list(zip(*rows, strict=True))
    f = [np.array(c, dtype=np.float64) for c in cols[5:]]
    pop, dur, dance, energy, loud, speech, acoustic, instr, live, valence, tempo, expl, major = f
    return GenreTable(
        names=tuple(cols[0]),
        family=np.array(cols[1]),
        scene=np.array(cols[2]),
        mainstream=np.array(cols[3], dtype=np.int64),
        pool=np.array(cols[4]),
        popularity=pop,
        duration_s=dur,
        mean01=np.stack([dance, energy, speech, acoustic, valence, live], axis=1),
        loudness=loud,
        instrumentalness=instr,
        tempo=tempo,
        explicit=expl,
        major=major,
    )


GENRES = _parse_genres()

# Genres with a narrow tempo (electronic styles are produced to a grid).
TEMPO_SD = {
    "edm": 4, "house": 3, "deep-house": 3, "chicago-house": 3, "techno": 4, "minimal-techno": 3,
    "detroit-techno": 4, "trance": 4, "progressive-house": 3, "drum-and-bass": 4, "dubstep": 5,
    "hardstyle": 4, "dance": 8, "club": 8, "electro": 8, "party": 12, "disco": 8, "breakbeat": 8,
}
TEMPO_SD_DEFAULT = 26.0

# Share of multi-artist tracks ("feat.") by family.
COLLAB_RATE = {"urban": 0.35, "latin": 0.38, "electronic": 0.25, "kpop": 0.15, "brazil": 0.3}
COLLAB_RATE_DEFAULT = 0.08

# ----------------------------------------------------------------------------- word pools

_EN = """love night heart fire light dream time summer rain road home midnight gold wild
blue sky stars ocean river city lights shadow forever tonight tomorrow yesterday young free
lonely golden electric broken running falling dancing burning waiting calling ghost angel
paradise heaven devil sugar honey diamond silver moon sun storm thunder highway memories
letter stranger stay alone together crazy sweet better bad good little lost found open
closer higher deeper slow fast kiss touch feel back again over under everything nothing
someone somebody baby girl boy world wonder magic echo mirror window door garden island
fever velvet neon paper glass bones blood west east north south morning evening sunday
friday weekend party youth hurricane satellite rocket cherry lemon coffee whiskey"""

_EN_NAMES_FIRST = """James Olivia Liam Emma Noah Ava Elijah Sophia Lucas Mia Mason Amelia Ethan
Harper Logan Evelyn Jack Abigail Aiden Ella Owen Scarlett Caleb Grace Ryan Chloe Nathan Lily
Dylan Zoe Isaac Nora Tyler Hazel Wyatt Violet Carter Aurora Miles Stella Leo Ruby Julian Ivy
Jasper Luna Felix Iris Oscar Maya Theo Eden Hugo Sadie Milo Nina Rowan Tessa Silas Wren
Caleb Jade Reid Quinn Marcus Kira Dante Selena Jonah Cora Abel Piper Gideon Lana Roman Skye"""

_EN_NAMES_LAST = """Smith Johnson Brooks Carter Hayes Reed Morgan Bennett Parker Foster Hughes
Ward Cole Gray Price Sanders Barnes Fisher Henderson Coleman Jenkins Perry Powell Long Patterson
Flores Simmons Bryant Russell Griffin Diaz Hamilton Graham Sullivan Wallace Woods Kennedy West
Jordan Reynolds Marshall Owens Harrison Gibson Ellis Stevens Tucker Porter Hunter Hicks Crawford
Boyd Mason Warren Dixon Ramsey Holland Lane Vaughn Shaw Fox Knight Stone Hale Pierce Marsh
Thornton Whitaker Calloway Ashford Langley Mercer Sterling Winslow Harlow Everett Sinclair"""

_BAND_ADJ = """Black White Red Silver Golden Electric Velvet Neon Broken Wild Young Lonely Crystal
Midnight Burning Frozen Hollow Sacred Savage Modern Arctic Paper Cosmic Silent Howling Crimson
Rusty Lucky Northern Southern Strange Pretty Little Big Last First Lost Hidden Secret Wandering"""

_BAND_NOUN = """Wolves Kings Queens Lions Tigers Foxes Ravens Crows Hearts Ghosts Angels Saints
Sinners Pilots Sailors Strangers Lovers Rebels Rockets Comets Echoes Shadows Mirrors Machines
Giants Horses Owls Sparrows Arrows Bullets Roses Daisies Lights Flames Waves Tides Keys Stones
Bones Diamonds Satellites Radios Monkeys Youth Brothers Sisters Union Parade Society Club"""

_DARK = """blood fire grave iron storm void death doom chaos black darkness abyss throne
torment shadow serpent plague ritual ashes winter frost night fear rage war steel skull
crypt sorrow eternal hellfire wolves demon coffin funeral requiem carnage wrath oblivion
bleeding cursed frozen fallen burning rotting infernal sacrifice apocalypse vengeance"""

_CALM = """rain ocean calm dreams drift sleep sounds waves forest breeze stillness deep
relaxing gentle quiet soft clouds moonlight meditation focus study lofi peaceful healing
white noise night piano ambient serenity tranquil morning dew whisper floating horizon
garden snowfall candle cozy nap lullaby river stream zen mindful breathing starlight"""

_CLUB = """night lights feel higher bass drop club fire dance move body tonight energy
pulse rhythm beat house groove sunrise ibiza circuit voltage laser neon euphoria
afterhours underground system control gravity motion elevate frequency signal
paradise fever hypnotic wave storm rave techno bounce jump loud alive"""

_URBAN = """money street gang drip flex hustle real talk ride block boss cash grind city
night vibe wavy fly smoke crown king queen loyal bands paper trap hood dreams pressure
fresh ice gold chain whip shine level motion legacy respect trust loyalty feelings
island rude gyal riddim roots zion jah irie yard"""

_COUNTRY = """truck whiskey road heart home sunday dirt georgia tennessee texas kentucky
river creek porch boots cowboy rodeo moonshine honky tonk bar back roads small town
church summer fireflies highway tailgate hometown dixie mama daddy gravel pickup
wagon prairie saddle lonesome ramblin"""

_KIDS = """little friends abc happy song star bubbles twinkle wheels bus farm animals
rainbow bath time counting numbers colors dinosaurs pirates princess puppy kitten
bedtime clap hands wiggle jump sunshine balloon alphabet story magic adventure"""

_COMEDY = """live at the improv bit story part airport dating marriage kids parents
phone intro outro closing opening crowd work the thing about my dad my mom wedding
gym doctor diet vacation neighbors dogs cats"""

_PT = """amor saudade coração noite sol mar você meu minha vida samba festa beijo
menina cidade tempo céu lua sonho alegria batucada morena carnaval praia paixão
saudades viola sertão estrada moça balanço chuva lágrimas casa mundo luz felicidade
malandro garota cachaça forró xote quero sempre nunca"""

_ES = """amor corazón noche baila fuego vida luna besos contigo siempre calle sol
cielo loca perreo dime quiero mambo bonita despacito gasolina tequila playa
fiesta mami papi caliente sabor ritmo bésame olvidarte mentiras ojos alma
corazones tango milonga barrio salsa azúcar"""

_JA = """sakura kokoro yume hikari sora namida koi tomodachi natsu hoshi kimi boku ai
mirai kaze yoru hana sekai tokimeki no ni to wo shiawase aoi tsuki ame machi
kiseki sayonara arigatou omoide uta himitsu shinjitsu setsunai daisuki"""

_KO = """saranghae nae maeum haneul bam byeol oppa neo uri kkum sarang nunmul
bom yeoreum gaeul gyeoul haru neoui naui seoul baby love dynamite butter
fire fantasy dream boy girl"""

_ZH = """ai xin ye tian meng yue xing feng yu wo ni yisheng pengyou qingren
xiangnian shijie huanghun hai liang hua gushi yuanfang zhiai yongyuan
oi sam je tin mung jyut sing fung"""

_FR = """amour nuit coeur soleil ciel je tu toujours rêve belle vie ma chérie
paris étoile encore jamais demain hier ensemble seul danse mer lumière
âme liberté papillon tendresse"""

_DE = """liebe nacht herz sonne himmel immer traum leben welt feuer mein dein
zusammen allein morgen heute sommer winter stadt wolken sterne freiheit
heimat sehnsucht"""

_SV = """kärlek natt hjärta sommar sol himmel alltid dröm liv vind hem stjärnor
regn hav vinter ljus tillsammans ensam dans längtan snö"""

_TR = """aşk gece kalp güneş gökyüzü hayat sevda yalnız gönül rüya sen ben
yıldız deniz özlem yol sonsuz gözler yağmur sevgilim"""

_FA = """eshgh del shab khorshid ahang bahar yar ashegh tanha roya delam
setareh darya baran kooche eshghe man to"""

_MS = """cinta hati malam bulan bintang rindu kasih sayang hujan mimpi selamanya
sepi bahagia janji pelangi senja laut"""

_HI = """pyaar dil raat chand sapna ishq zindagi tera mera jaana dildaar yaara
mohabbat saathiya barsaat khwaab aashiqui dhadkan tum hum"""

_IT = """amore notte cuore sole cielo vita stella aria dolce addio donna
mio caro fiore luna nessun dorma speranza destino"""

POOL_WORDS: dict[str, tuple[str, ...]] = {
    name: _split(text)
    for name, text in {
        "en": _EN, "dark": _DARK, "calm": _CALM, "club": _CLUB, "urban": _URBAN,
        "country": _COUNTRY, "kids": _KIDS, "comedy": _COMEDY, "pt": _PT, "es": _ES, "ja": _JA,
        "ko": _KO, "zh": _ZH, "fr": _FR, "de": _DE, "sv": _SV, "tr": _TR, "fa": _FA, "ms": _MS,
        "hi": _HI, "it": _IT,
    }.items()
}
POOL_WORDS["classical"] = POOL_WORDS["calm"]

# Probability a title in a pool mixes in generic English words.
ENGLISH_MIX = {"ko": 0.5, "ja": 0.25, "zh": 0.2, "ms": 0.2, "hi": 0.2, "sv": 0.3, "de": 0.15,
               "fr": 0.15, "tr": 0.1, "fa": 0.05, "es": 0.12, "pt": 0.08, "it": 0.05}
TITLECASE_POOLS = {"en", "dark", "calm", "club", "urban", "country", "kids", "comedy", "classical"}

HOLIDAY_WORDS = {
    "en": ("Christmas", "Santa", "Jingle", "Holiday", "Snow", "Mistletoe", "Winter Wonderland"),
    "es": ("Navidad", "Noche de Paz", "Feliz Navidad"),
    "pt": ("Natal", "Noite Feliz"),
    "ja": ("Kurisumasu", "Merii Kurisumasu"),
    "de": ("Weihnachten", "Stille Nacht"),
    "fr": ("Noël", "Petit Papa Noël"),
    "sv": ("Jul", "God Jul"),
}

CLASSICAL_FORMS = ("Symphony", "Piano Sonata", "String Quartet", "Nocturne", "Prelude", "Étude",
                   "Piano Concerto", "Violin Concerto", "Suite", "Sonata", "Fugue", "Waltz", "Mazurka",
                   "Impromptu", "Rhapsody", "Serenade", "Partita", "Ballade", "Fantasia", "Cello Suite")
CLASSICAL_KEYS = ("C", "D", "E", "F", "G", "A", "B", "E-flat", "B-flat", "A-flat", "F-sharp", "C-sharp")
CLASSICAL_MOVEMENTS = ("I. Allegro", "II. Adagio", "III. Menuetto", "IV. Presto", "I. Allegro con brio",
                       "II. Andante con moto", "III. Scherzo: Vivace", "II. Largo", "I. Moderato",
                       "III. Allegretto", "IV. Finale: Allegro molto", "II. Romanze")


CLASSICAL_FIRST = _split("""Johann Ludwig Clara Fanny Frédéric Antonín Sergei Camille Gustav Franz
Wilhelm Amalie Piotr Bedřich Edvard Heinrich Luise Anton Carl Felix Josefine Leopold""")
CLASSICAL_LAST = _split("""Keller Brandt Lindqvist Moravec Dvorsky Halvorsen Richter Falkenberg Novak
Steinmetz Vogel Albrecht Kovalenko Marchetti Rosetti Lindholm Szabo Weiss Hartmann Berger
Ostrowski Castellano Varga Lindgren""")
ORCHESTRA_CITIES = _split("""Vienna Berlin Prague Leipzig Budapest London Boston Amsterdam Dresden
Munich Warsaw Oslo Helsinki Zurich Lyon Turin Salzburg Bergen Krakow Brno""")
BAND_ADJ = _split(_BAND_ADJ)
BAND_NOUN = _split(_BAND_NOUN)

# language -> (first names, last names); for ko/zh the first list holds family names
PERSON_NAMES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "en": (_split(_EN_NAMES_FIRST), _split(_EN_NAMES_LAST)),
    "pt": (_split("""João Ana Pedro Maria Lucas Júlia Gabriel Beatriz Rafael Larissa Thiago Camila Bruno
                  Fernanda Diego Luana Caio Marília Henrique Jorge Zeca Gusttavo Matheus"""),
           _split("""Silva Santos Oliveira Souza Lima Pereira Costa Almeida Ferreira Rocha Ribeiro Carvalho
                  Gomes Martins Araújo Barbosa Moraes Cardoso Teixeira Nogueira Mendes""")),
    "es": (_split("""Carlos Sofía Diego Valentina Mateo Camila Santiago Lucía Alejandro Isabella Andrés
                  Daniela Javier Mariana Luis Paula Nicolás Ximena Rafael Gabriela Bad Manuel"""),
           _split("""García Rodríguez Martínez López González Hernández Pérez Sánchez Ramírez Torres Flores
                  Rivera Gómez Díaz Reyes Morales Cruz Ortiz Vargas Castillo Romero""")),
    "ja": (_split("""Yuki Haruto Sakura Ren Aoi Sora Hina Riku Yui Kaito Mei Daiki Nanami Takumi Akari
                  Kenta Misaki Shota Ayaka Hikaru"""),
           _split("""Tanaka Suzuki Takahashi Watanabe Ito Yamamoto Nakamura Kobayashi Kato Yoshida
                  Yamada Sasaki Matsumoto Inoue Kimura Hayashi Shimizu Mori""")),
    "ko": (_split("Kim Lee Park Choi Jung Kang Cho Yoon Jang Lim Han Shin"),
           _split("""Min-jun Seo-yeon Ji-woo Ha-eun Do-yun Su-ah Ye-jun Ji-ho Hye-jin Tae-yang Eun-bi
                  Jae-won Yu-na Si-woo""")),
    "zh": (_split("Chen Lin Wang Zhang Liu Huang Wu Zhou Cheung Leung Chan Wong Tsai"),
           _split("Wei Yu-ting Jia Hao Xin Yi Jay Eason Faye Kelly Hins Joey Jolin Mayday")),
    "fr": (_split("Louis Camille Hugo Léa Jules Chloé Gabriel Manon Arthur Inès Théo Zoé Paul Clara"),
           _split("""Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Laurent Lefèvre
                  Fontaine Rousseau""")),
    "de": (_split("Lukas Anna Felix Lena Jonas Marie Leon Sophie Paul Laura Max Hannah Tim Mia"),
           _split("Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Koch Richter Klein Wolf")),
    "sv": (_split("Erik Elsa Oskar Alva Axel Maja Hugo Wilma Lucas Astrid Nils Freja Vilgot Saga"),
           _split("""Andersson Johansson Karlsson Nilsson Eriksson Larsson Olsson Persson Svensson
                  Lindberg Lindqvist Berg Holm""")),
    "tr": (_split("Emre Elif Mehmet Zeynep Mustafa Ayşe Can Defne Burak Selin Murat Ezgi Tarkan Sezen"),
           _split("Yılmaz Kaya Demir Şahin Çelik Yıldız Yıldırım Öztürk Aydın Özdemir Arslan Doğan")),
    "fa": (_split("Ali Sara Reza Maryam Hossein Zahra Mohsen Leila Dariush Shadmehr Googoosh Ebi"),
           _split("Ahmadi Hosseini Karimi Rahimi Moradi Jafari Rezaei Mohammadi Sadeghi Yeganeh")),
    "ms": (_split("Ahmad Siti Hafiz Nur Faizal Aina Amir Ayu Rizal Dewi Iqbal Putri"),
           _split("Abdullah Rahman Ismail Hassan Ibrahim Yusof Hamzah Salleh Nasution Wijaya")),
    "hi": (_split("Arijit Shreya Rahul Priya Vishal Neha Amit Sunidhi Karan Asha Armaan Jubin"),
           _split("Singh Sharma Kumar Ghoshal Patel Kapoor Mehta Rao Chauhan Malik Nautiyal Iyer")),
    "it": (_split("Giuseppe Maria Luca Giulia Marco Francesca Andrea Chiara Luciano Cecilia Renata Placido"),
           _split("Rossi Russo Ferrari Esposito Bianchi Romano Colombo Ricci Marino Greco Bruno Gallo")),
}

# Syllables for invented names (DJ/producer aliases, K-pop groups, and a big namespace
# that keeps 100k+ artist names unique).
SYLLABLES = tuple(
    c + v
    for c in ("b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "ch", "sh", "x", "")
    for v in ("a", "e", "i", "o", "u", "ay", "ix", "on", "ar", "el")
)

# ----------------------------------------------------------------------------- regions

# name, top-1 daily streams (market size), lead time (days, 0 = leader), yearly growth,
# scene affinities (scene:log-boost).
_REGION_TABLE = """
Global               5500000 0.0 0.10 global:0.3
United_States        1500000 0.0 0.08 global:0.6,latin:0.3,korea:-0.5
Brazil                900000 2.0 0.14 brazil:2.6,global:-0.4,latin:0.2
Mexico                800000 1.0 0.12 latin:2.0,global:-0.1,korea:0.2
United_Kingdom        750000 0.0 0.07 global:0.6,latin:-0.4
Germany               650000 1.5 0.08 germany:2.2,global:0.2
Japan                 220000 4.0 0.18 japan:3.2,korea:0.8,global:-1.2
Argentina             450000 2.0 0.12 latin:2.2,global:-0.3
Spain                 450000 1.5 0.09 latin:1.8,global:0.0
France                450000 1.5 0.09 france:2.4,global:-0.1,urban:0.2
Canada                400000 0.0 0.08 global:0.6,france:0.6
Australia             380000 0.5 0.07 global:0.6
Italy                 380000 2.5 0.10 global:0.1
Netherlands           300000 1.0 0.07 global:0.4,germany:0.3
Sweden                260000 0.0 0.06 sweden:2.6,global:0.4
Indonesia             300000 4.0 0.22 malay:2.0,korea:1.2,global:0.0
Philippines           300000 3.0 0.18 global:0.4,korea:1.0
Chile                 280000 2.0 0.12 latin:2.2,global:-0.2
Colombia              280000 1.5 0.14 latin:2.4,global:-0.4
South_Korea            60000 5.0 0.15 korea:3.5,global:-1.0
Poland                240000 2.5 0.12 global:0.2
Turkey                220000 4.0 0.15 turkey:3.0,global:-0.6
India                 250000 5.0 0.30 india:3.2,global:-0.6
Taiwan                150000 4.0 0.10 chinese:3.0,korea:0.8,japan:0.3
Peru                  180000 2.5 0.15 latin:2.4
Norway                140000 0.5 0.05 global:0.5,sweden:0.8
Denmark               130000 0.5 0.05 global:0.5,sweden:0.5
Finland               120000 1.0 0.06 global:0.3,sweden:0.4
Belgium               120000 1.5 0.06 global:0.3,france:1.2
Switzerland           110000 1.5 0.06 global:0.3,germany:1.2,france:0.6
Austria               100000 1.5 0.07 germany:2.0,global:0.3
Portugal              100000 2.0 0.08 brazil:1.2,global:0.2
Ireland                90000 0.5 0.06 global:0.7
New_Zealand            80000 0.5 0.06 global:0.7
Malaysia              120000 3.5 0.18 malay:2.2,chinese:1.2,korea:0.8
Singapore              90000 3.0 0.10 chinese:1.2,korea:1.0,global:0.4
Hong_Kong              80000 3.5 0.08 chinese:2.6,korea:0.4
Thailand              100000 4.0 0.20 korea:1.4,global:0.0
Vietnam                90000 4.5 0.25 korea:1.4
Ecuador                90000 2.5 0.15 latin:2.4
Dominican_Republic     60000 1.0 0.15 latin:2.8
Uruguay                50000 2.0 0.10 latin:2.2
Paraguay               40000 2.5 0.14 latin:2.4
Bolivia                30000 3.0 0.14 latin:2.4
Costa_Rica             40000 2.0 0.12 latin:2.3
Guatemala              40000 2.5 0.14 latin:2.4
Honduras               25000 3.0 0.14 latin:2.4
El_Salvador            25000 3.0 0.14 latin:2.4
Nicaragua              15000 3.0 0.14 latin:2.4
Panama                 30000 2.0 0.14 latin:2.5
Czech_Republic         70000 2.5 0.08 global:0.3
Hungary                60000 2.5 0.08 global:0.3
Greece                 60000 2.5 0.09 global:0.2
Romania                60000 3.0 0.12 global:0.2
Slovakia               30000 2.5 0.08 global:0.3
Israel                 50000 2.0 0.08 global:0.4
South_Africa           60000 3.0 0.20 global:0.4,urban:0.5
Russia                150000 4.0 0.20 global:-0.2
Ukraine                50000 4.0 0.18 global:-0.2
United_Arab_Emirates   40000 2.5 0.15 global:0.3,india:0.8
Saudi_Arabia           60000 3.5 0.20 global:0.0
Egypt                  50000 4.0 0.20 global:-0.2
Morocco                40000 3.5 0.18 france:0.8
Estonia                15000 2.0 0.06 global:0.4
Latvia                 15000 2.0 0.06 global:0.4
Lithuania              20000 2.0 0.06 global:0.4
Iceland                 8000 1.0 0.05 global:0.5
Luxembourg              6000 1.5 0.05 global:0.3,france:0.8,germany:0.6
Bulgaria               25000 3.0 0.10 global:0.2
Andorra                 3000 2.0 0.05 latin:1.0,france:0.5
"""


@dataclass(frozen=True)
class RegionTable:
    names: tuple[str, ...]
    size: np.ndarray
    lead: np.ndarray
    growth: np.ndarray
    affinity: tuple[dict[str, float], ...]


def _parse_regions() -> RegionTable:
    names, size, lead, growth, aff = [], [], [], [], []
    for line in _REGION_TABLE.strip().splitlines():
        name, s, la, g, a = line.split()
        names.append(name.replace("_", " "))
        size.append(float(s))
        lead.append(float(la))
        growth.append(float(g))
        aff.append({k: float(v) for k, v in (kv.split(":") for kv in a.split(","))})
    return RegionTable(tuple(names), np.array(size), np.array(lead), np.array(growth), tuple(aff))


REGIONS = _parse_regions()

# Chart-genre mainstreamness -> log-boost of charting; niche scenes rarely chart anywhere.
MAINSTREAM_BOOST = np.array([-1.6, -0.3, 0.5, 1.2])
SCENE_BASE = {"global": 0.0, "niche": -1.2, "iran": -3.0}
LOCAL_SCENE_BASE = -1.6  # a local scene outside its home markets

# ----------------------------------------------------------------------------- last.fm tags

MOOD_TAGS = ("chillout", "mellow", "sad", "happy", "melancholic", "relaxing", "party", "energetic",
             "dark", "upbeat", "romantic", "aggressive", "atmospheric", "dreamy", "calm", "uplifting")
MISC_TAGS = ("seen live", "favorites", "female vocalists", "male vocalists", "80s", "90s", "00s",
             "awesome", "beautiful", "love", "cover", "instrumental", "british", "american",
             "brazilian", "japanese", "korean", "spanish", "german", "swedish", "french", "guilty pleasure",
             "my favorite", "best of 2010", "catchy", "summer", "oldies", "live", "under 2000 listeners",
             "amazing", "fun", "epic", "sexy", "classic", "soundtrack", "singer-songwriter", "check out")
MISC_WEIGHTS = np.array([3, 4, 3, 2, 1, 1.5, 1.5, 2, 2, 2, 0.5, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.5,
                         1, 0.3, 1, 0.5, 0.5, 0.5, 0.5, 1, 0.8, 0.6, 0.5, 0.8, 0.4, 0, 0.4])
SCENE_TAG = {"brazil": "brazilian", "japan": "japanese", "korea": "korean", "latin": "spanish",
             "germany": "german", "sweden": "swedish", "france": "french"}

# Last.fm style spelling of some genre tags.
GENRE_TAG_SPELLING = {
    "r-n-b": "rnb", "alt-rock": "alternative rock", "drum-and-bass": "drum and bass",
    "rock-n-roll": "rock n roll", "world-music": "world", "deep-house": "deep house",
    "black-metal": "black metal", "death-metal": "death metal", "heavy-metal": "heavy metal",
    "hard-rock": "hard rock", "punk-rock": "punk rock", "psych-rock": "psychedelic rock",
    "progressive-house": "progressive house", "chicago-house": "chicago house",
    "detroit-techno": "detroit techno", "minimal-techno": "minimal techno", "new-age": "new age",
    "indie-pop": "indie pop", "synth-pop": "synthpop", "show-tunes": "musicals",
    "pop-film": "bollywood", "honky-tonk": "honky tonk", "singer-songwriter": "singer-songwriter",
}
