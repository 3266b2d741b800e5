"""What several test modules share: servers and browsers, independent judges (ffprobe,
pdftoppm, zbarimg), the fake edge-tts service, and small builders for inputs. Test modules
import from here, never from one another."""
